"""The ``spark`` drift engine: exact drift of data that no single machine holds.

Importing this package imports no Spark; :mod:`~modelmedic.drift.spark.engine` needs
the ``spark`` extra (``pip install 'modelmedic[spark]'``).
"""
