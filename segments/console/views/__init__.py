"""Console views, one module per screen (see ``segments/console/urls.py``)."""
