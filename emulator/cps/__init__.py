"""Payter's Cloud Payment Service (CPS): the REST API with which a CSMS drives a terminal.

Split like every emulated service here (STYLE.md): :mod:`.models` (the CPS objects, pydantic),
:mod:`.service` (the logic over the terminal host, no HTTP), :mod:`.webhooks` (the persistent
delivery queue and its retry ladder), :mod:`.http` (parse, call, serialise) and :mod:`.routes`
(the route table and the application). Facts: payter.md section 3 and 4.3.
"""
