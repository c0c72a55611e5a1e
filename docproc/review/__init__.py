"""The review station (``docproc review``): people key what the machine is not sure of.

queue.py turns a results file into the fields to key, store.py keeps what was keyed
(SQLite, committed per field), crops.py cuts each field out of its scan, rules.py checks
a keyed value against the template, server.py serves the station (static/ holds its
page) and export.py writes the reviewed results and the keyed truth.
"""
