"""What the lakehouse's parts must agree on, each defined once; standard library only.

lakehouse/, producer/, jobs/, orion/ and bench/ import it, and it ships to Spark with the jobs' packages
(orion/codehash.py zips it beside them; the Spark image copies it to /opt/lakehouse/contract).

    names     the events topic and tables, the checkpoint, the LAKEHOUSE_* environment, the stack's outputs
    events    the event's fields, their limits, the risk classes and the quarantine's reason codes
    units     memory sizes and durations: one grammar each
    batchlog  the streaming job's per-batch log line, written and parsed
"""
