"""The run plan: everything about a run that is decided before the first event, as frozen data.

:func:`sn40l_sim.plan.planner.plan_run` turns a resolved scenario into a
:class:`~sn40l_sim.plan.run_plan.RunPlan` (serving groups, placement, memory, expected loads,
router and expert pricing); the engine wires SimPy processes from it, and ``footprint`` prices the
router with the same :class:`~sn40l_sim.plan.run_plan.RouterPlan`. Pure: no SimPy, no I/O.
"""
