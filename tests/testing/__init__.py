"""What the tests share, in one place: the API CRUD case (``api_crud``), the console CRUD
case (``console_crud``), the thread runner of races (``threads``), JSON calls to a live
server (``live_http``) and the project's import graph (``import_graph``). Model factories
stay in ``tests/factories.py``."""
