"""The provincial 好差评 push (province.md): every rating handed to the provincial platform
exactly once, from a durable outbox, by one sender per profile (zhejiang, shandong).

  settings.py   [province] → ProvinceSettings (secrets from secret_file, the SM2 key checked)
  outbox.py     the outbox tables and the projections that fill them in the rating's transaction
  events.py     receipts, re-pushes and reconciliations, journaled
  records.py    the records each profile sends, built from the outbox row and its case
  zhejiang.py   form POST with HTTP Basic; result/resultmsg
  shandong.py   JSON envelope, SM2 sign and payload (sm2.py), service push before rating
  transport.py  one bounded HTTP request (queued/http11.py) and what its failure means
  sender.py     the single sender task: due rows, backoff with jitter, receipts
  reconcile.py  daily reconciliation per hall day × window × profile
  redact.py     ID numbers and phones out of receipts, errors and logs
  service.py    the adapter: life, metrics, alert;  routes.py: /admin/province and the API
"""
