"""Import Znuny-format YAML: read, validate every record, plan, then apply all or nothing.

Steps, each usable on its own (the import preview re-plans live when "overwrite" changes):

1. ``parse_import(data)`` reads the file safely (``desktop.backup.yamlio``) and checks every
   record on its own: types, required fields, URLs (``desktop.models.validation``), names that
   occur twice in the file. Every problem names the record (1-based index and Name) and the
   field as a path into the record (``Config.Requests.TokenByRefreshToken.Request.URL``).
2. ``plan_import(ctx, parsed, overwrite)`` decides per record: *new*, *overwrites* (same name,
   overwrite on), *skipped* (same name, overwrite off) or *invalid* (why).
3. ``apply_import(ctx, plan)`` refuses a plan with any invalid record, then writes everything in
   one database transaction; client secrets are sealed into the vault inside that transaction,
   so configurations and their secrets commit together or not at all (a killed import too).

Modules: ``records`` (what reading gives: records, problems, field labels), ``check`` (step 1),
``store_size`` (whether a record fits the store), ``plan`` (step 2), ``apply`` (step 3); this package
exports their public names and ``import_file`` (all three steps, the CLI's one call).

Decisions (documented for admins in ``desktop/backup/__init__.py``):

* Top level: a list of records (Znuny's export). A mapping with ``Name`` or ``Config`` is one
  record, as Znuny's own import treats it. Any other mapping (for example ``{Name: Config}``)
  is refused with an explanation, because it cannot be told apart from a broken record.
* ``ValidID`` may be absent (then 1, valid, as in Znuny) or ``'1'`` as a string.
* ``CreateTime``/``ChangeTime`` may be text or a YAML timestamp; a new configuration keeps the
  file's ``CreateTime`` and ``CreateBy``; ``ChangeTime`` becomes the time of the import.
* Any ``TemplateName`` is accepted: Znuny files carry their own endpoints and parameters. A
  name that is not installed here is reported as a note; the endpoints the flow needs must
  then be in the record (checked like any other).
* Overwriting keeps the configuration's id, so its token, token state and mail accounts stay
  attached; the stored ``TemplateName`` is kept (it is permanent) and, when the record has
  no ``ClientSecret``, so is the stored client secret.
* Unless an endpoint moves to another origin (``desktop.models.origins``): then the stored
  tokens are forgotten, and the stored client secret is removed unless the plan keeps it
  (``keep_client_secret``: the preview's checkbox, the CLI's ``--send-client-secret-to-new-hosts``),
  in the import's transaction, holding those tokens' refresh locks.
* Unknown keys anywhere are kept and exported again; values must be plain YAML scalars,
  lists and mappings with text keys (dates and binary values are refused: quote them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from desktop.backup.importer.apply import ImportBlocked, ImportSummary, PlanChanged, apply_import
from desktop.backup.importer.check import parse_import, read_import_file
from desktop.backup.importer.plan import Action, ImportPlan, PlannedRecord, plan_import
from desktop.backup.importer.records import ImportRecord, ParsedImport, Problem, field_label

__all__ = [
    "Action",
    "ImportBlocked",
    "ImportPlan",
    "ImportRecord",
    "ImportSummary",
    "ParsedImport",
    "PlanChanged",
    "PlannedRecord",
    "Problem",
    "apply_import",
    "field_label",
    "import_file",
    "parse_import",
    "plan_import",
    "read_import_file",
]


def import_file(ctx: Any, path: Path | str, *, overwrite: bool = False, dry_run: bool = False
                ) -> tuple[ImportPlan, ImportSummary | None]:
    """Read, plan and (unless ``dry_run`` or invalid) apply: the CLI's one call."""
    parsed = read_import_file(path, ctx.templates)
    plan = plan_import(ctx, parsed, overwrite)
    if dry_run or not plan.ok:
        return plan, None
    return plan, apply_import(ctx, plan)
