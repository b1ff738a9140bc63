"""The logistics data plane's Spark code, shipped to the cluster as one package (--py-files); its entry points
are the files beside it, jobs/logistics_stream.py and jobs/delta_maintenance.py. Start reading at stream.py."""
