"""Capacity-planning sweeps: grids over scenario fields, SLO searches, their tables and curves.

``spec`` (the sweep file) -> ``grid`` (dotted-path overrides, point ids) and ``search`` (bisection)
-> ``driver`` (plan, skip done points, run) on ``backends`` (process pool or Ray) calling
``task.run_point`` -> ``store`` (one Parquet file per point) -> ``plots``.
"""
