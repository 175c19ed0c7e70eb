"""The process designer's tools (流程设计): check, compare and try a draft BPMN, and the studio service.

- `check_draft` — the deploy checks plus reachability, as problems with file, line and element id;
- `diff_definitions` / `summarise_diff` — what changed between two versions, layout ignored;
- `run_samples` / `load_samples` — play sample cases through a draft in memory before deploying it;
- `studio.DesignStudio` — what the design pages ask: versions, draft problems, trials, deployment.
"""

from engine.bpmn.design.checks import check_draft
from engine.bpmn.design.diff import diff_definitions, summarise_diff
from engine.bpmn.design.samples import SampleFileError, load_samples
from engine.bpmn.design.trial import SampleResult, run_samples

__all__ = ["SampleFileError", "SampleResult", "check_draft", "diff_definitions", "load_samples", "run_samples",
           "summarise_diff"]
