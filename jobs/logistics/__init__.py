"""The logistics data plane's Spark code, shipped to the cluster as one package (Orion and the image zip
jobs/<package>/ and pass it with --py-files; run from the repository, jobs/ is on sys.path).

    settings     names, defaults, precedence and duration rule (no pyspark; shared with lakehouse/)
    schema       the event schema, both tables' Spark schemas, reason codes
    rules        screen (every record, the decision) and explain (quarantined records, the reasons)
    tables       table creation and the batch's two idempotent appends
    lease        one writer per table
    maintenance  compaction, vacuum, log checkpoint (in the stream on a schedule, or standalone)
    session      the Spark session both jobs run in
    writer       the stream's foreachBatch: one micro-batch into both tables, then maintenance when due
    stop         the stream's bounded stop, on a signal or a request
    stream       the streaming query
The entry points are the files beside this package: jobs/logistics_stream.py, jobs/delta_maintenance.py.
"""
