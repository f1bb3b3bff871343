"""Table structure: the SLANet-plus network (:mod:`.slanet`) and its tokens read as a grid of
cells (:mod:`.grid`). Matching text to the cells is the page's business
(:mod:`docfleet.page.tables`)."""
