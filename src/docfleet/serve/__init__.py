"""``docfleet serve``: the document pipeline as a web service on warm device workers."""
