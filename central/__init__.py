"""The central service of a city's halls: halls ship their journals here (PostgreSQL), supervisors
read city reports, rankings and 差评 follow-ups across halls, and the public sees the city's results.

Stateless over PostgreSQL: several instances may run behind a load balancer. `queued central serve`.
"""
