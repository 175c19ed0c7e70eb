"""The tamper-evident security audit log (审计日志, R-6.4.3, GB/T 37973).

`chain` writes it (`audit`, the one place that does) as a hash chain; `verify` walks the chain and names
the first broken or missing link; `retention` prunes it from its start; `log` is what the administrators'
page and the CSV export read; `labels` names the actions in Chinese; `service` is `CaseEngine.audit`.
"""
