"""The import preview: what will happen to each record of the file, before anything changes.

Each record is listed as *new*, *overwrites*, *skipped* or *invalid* with an icon, a colour and
the reason; an invalid record lists every problem (field and message) below it. "Overwrite
existing configurations" re-plans at once. An overwrite that moves endpoints to another origin
says so in lines under its row ("token endpoint moves from https://a to https://b: the stored
tokens are forgotten"); while any such record would carry a stored client secret along, "Send
the stored client secret to the new hosts" (one choice for the whole import, off by default)
appears and re-plans too. Apply stays disabled while anything is invalid (or when nothing would
change). The dialog only plans; the backup feature applies the plan on the task runner and
shows the summary.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.backup.importer import Action, ImportPlan, ParsedImport, Problem, field_label
from desktop.models.origins import new_origins
from desktop.models.tones import style
from desktop.ui.icons import icon
from desktop.ui.widgets import BAR_STYLES

#: per kind: icon (resources/icons), text colour, background of the status cell
KIND_STYLE: dict[Action, tuple[str, str, str]] = {
    Action.NEW: ("status-valid", "#0b5d1e", "#e3f4e6"),
    Action.OVERWRITE: ("status-expiring", "#7a4a00", "#fff1d6"),
    Action.SKIP: ("status-none", "#505050", "#eeeeee"),
    Action.INVALID: ("status-failed", "#9b0012", "#fde7e9"),
}
KIND_LABEL = {Action.NEW: "new", Action.OVERWRITE: "overwrites", Action.SKIP: "skipped", Action.INVALID: "invalid"}

COL_INDEX, COL_NAME, COL_STATUS, COL_DETAILS = range(4)

#: plan(overwrite) -> ImportPlan; reads the store only
Planner = Callable[[bool], ImportPlan]


def _problem_line(problem: Problem) -> str:
    label = field_label(problem.field)
    where = f"{problem.field} ({label})" if label else (problem.field or "the record")
    return f"\u2022 {where}: {problem.message}"


class ImportPreviewDialog(QDialog):
    def __init__(self, parsed: ParsedImport, planner: Planner, overwrite: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.parsed = parsed
        self.planner = planner
        self.plan: ImportPlan = planner(overwrite)
        name = Path(parsed.source).name if parsed.source else "the file"
        self.setWindowTitle(f"Import token configurations \u2013 {name}")
        self.setObjectName("ImportPreviewDialog")

        layout = QVBoxLayout(self)
        self.heading = QLabel()
        self.heading.setObjectName("importHeading")
        self.heading.setWordWrap(True)
        self.heading.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.heading)

        self.file_problem = QLabel()
        self.file_problem.setObjectName("importFileProblem")
        self.file_problem.setWordWrap(True)
        self.file_problem.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.file_problem.setStyleSheet(f"QLabel#importFileProblem {{{BAR_STYLES['error']} padding:8px;}}")
        layout.addWidget(self.file_problem)

        self.tree = QTreeWidget()
        self.tree.setObjectName("importPreview")
        self.tree.setAccessibleName("Records in the file")
        self.tree.setColumnCount(4)
        self.tree.setHeaderLabels(["#", "Name", "Status", "Details"])
        self.tree.setRootIsDecorated(True)
        self.tree.setUniformRowHeights(False)
        self.tree.setWordWrap(True)
        self.tree.setAlternatingRowColors(False)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.tree.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(COL_INDEX, QHeaderView.ResizeMode.Fixed)  # problem lines span the row
        self.tree.setColumnWidth(COL_INDEX, 52)
        self.tree.setColumnWidth(COL_NAME, 230)
        self.tree.setColumnWidth(COL_STATUS, 120)
        layout.addWidget(self.tree, 1)

        self.warnings = QLabel()
        self.warnings.setObjectName("importWarnings")
        self.warnings.setWordWrap(True)
        self.warnings.setStyleSheet(f"QLabel#importWarnings {{{BAR_STYLES['warning']} padding:6px;}}")
        layout.addWidget(self.warnings)

        self.overwrite_box = QCheckBox("&Overwrite existing configurations (only those with the same name change)")
        self.overwrite_box.setChecked(overwrite)
        self.overwrite_box.setToolTip(
            "On: a record whose name exists replaces that configuration (its token stays). "
            "Off: such records are skipped."
        )
        layout.addWidget(self.overwrite_box)

        self.keep_secret_box = QCheckBox("Send the stored client secret to the new hosts")
        self.keep_secret_box.setObjectName("importKeepClientSecret")
        self.keep_secret_box.setChecked(False)
        layout.addWidget(self.keep_secret_box)

        self.status = QLabel()
        self.status.setObjectName("importStatus")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.apply_button = self.buttons.addButton("&Apply", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.on_apply_clicked)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.apply_button.setDefault(True)  # Enter applies (once the box is in the dialog, see export_dialog)
        QWidget.setTabOrder(self.apply_button, self.buttons.button(QDialogButtonBox.StandardButton.Cancel))

        self.overwrite_box.toggled.connect(self.on_overwrite_toggled)
        self.keep_secret_box.toggled.connect(self.on_keep_secret_toggled)
        self.plan.set_keep_client_secret(self.keep_secret_box.isChecked())
        self._show_plan()
        self.resize(860, 520)

    # ---- planning
    @property
    def overwrite(self) -> bool:
        return self.overwrite_box.isChecked()

    @Slot(bool)
    def on_overwrite_toggled(self, checked: bool) -> None:
        self.plan = self.planner(checked)
        self.plan.set_keep_client_secret(self.keep_secret_box.isChecked())
        self._show_plan()

    @Slot(bool)
    def on_keep_secret_toggled(self, checked: bool) -> None:
        self.plan.set_keep_client_secret(checked)
        self._show_plan()

    def _show_plan(self) -> None:
        plan = self.plan
        has_file_problem = bool(plan.parsed.problems)
        self.file_problem.setVisible(has_file_problem)
        self.file_problem.setText("\n".join(str(p) for p in plan.parsed.problems))
        self.tree.setVisible(bool(plan.records) or not has_file_problem)
        self.overwrite_box.setEnabled(not has_file_problem)

        chips = []
        for action in Action:
            n = plan.count(action)
            _icon, fg, bg = KIND_STYLE[action]
            chips.append(
                f"<span style='background:{bg}; color:{fg};'>&nbsp;{n} {KIND_LABEL[action]}&nbsp;</span>"
            )
        total = len(plan.records)
        self.heading.setText(
            f"<b>{total} configuration{'s' if total != 1 else ''}</b> in the file: " + " ".join(chips)
        )

        self.tree.clear()
        for planned in plan.records:
            icon_name, fg, bg = KIND_STYLE[planned.action]
            item = QTreeWidgetItem([str(planned.index), planned.name or "(no Name)", KIND_LABEL[planned.action], ""])
            item.setIcon(COL_STATUS, icon(icon_name))
            item.setForeground(COL_STATUS, QBrush(QColor(fg)))
            item.setBackground(COL_STATUS, QBrush(QColor(bg)))
            item.setData(COL_STATUS, Qt.ItemDataRole.UserRole, planned.action.value)
            font = item.font(COL_STATUS)
            font.setBold(True)
            item.setFont(COL_STATUS, font)
            if planned.action is Action.INVALID:
                n = len(planned.problems)
                item.setText(COL_DETAILS, f"{n} problem{'s' if n != 1 else ''}:")
                item.setForeground(COL_DETAILS, QBrush(QColor(fg)))
                for problem in planned.problems:
                    # one line across the row: field paths can be long
                    child = QTreeWidgetItem([_problem_line(problem)])
                    child.setData(COL_INDEX, Qt.ItemDataRole.UserRole, (problem.field, problem.message))
                    child.setForeground(COL_INDEX, QBrush(QColor(fg)))
                    child.setToolTip(COL_INDEX, str(problem))
                    item.addChild(child)
            else:
                item.setText(COL_DETAILS, planned.reason)
                if planned.action is Action.OVERWRITE:
                    # where the secrets would go: a line of its own under the row, never cut off
                    for note in planned.move_notes():
                        child = QTreeWidgetItem([f"\u2022 {note}"])
                        child.setForeground(COL_INDEX, QBrush(QColor(fg)))
                        child.setToolTip(COL_INDEX, note)
                        item.addChild(child)
            item.setToolTip(COL_DETAILS, item.text(COL_DETAILS))
            self.tree.addTopLevelItem(item)
            for i in range(item.childCount()):
                item.child(i).setFirstColumnSpanned(True)  # only works once the item is in the tree
            if item.childCount():
                item.setExpanded(True)

        self.warnings.setText("\n".join(plan.warnings))
        self.warnings.setVisible(bool(plan.warnings))

        asking = [p for p in plan.moved if p.asks_client_secret]
        self.keep_secret_box.setVisible(bool(asking))
        hosts = new_origins([m for p in asking for m in p.moves])
        self.keep_secret_box.setToolTip(
            "Endpoints of " + ", ".join(f"'{p.name}'" for p in asking[:5]) + (" and more" if len(asking) > 5 else "")
            + " move to " + ", ".join(hosts) + ". Their stored tokens are forgotten in any case. Ticked, their stored "
            "client secrets stay and are sent to the new hosts; unticked (safer), they are removed and you add them "
            "again with Edit." if asking else "")

        changes = plan.count(Action.NEW) + plan.count(Action.OVERWRITE)
        if not plan.ok:
            n = len(plan.problems)
            self.status.setText(
                f"Nothing can be imported while the file has problems ({n}). Fix the file and import it again."
            )
            self.status.setStyleSheet(style("error"))
        elif changes == 0:
            self.status.setText("Nothing would change." + (
                " Tick \u201cOverwrite existing configurations\u201d to replace the ones with the same name."
                if plan.count(Action.SKIP) else ""))
            self.status.setStyleSheet("")
        else:
            moved = len(plan.moved)
            self.status.setText(
                f"Apply adds {plan.count(Action.NEW)} and overwrites {plan.count(Action.OVERWRITE)} "
                "configuration(s), all together or not at all."
                + (f" {moved} of them move{'s' if moved == 1 else ''} to another host: "
                   f"{'its' if moved == 1 else 'their'} stored tokens are forgotten." if moved else "")
            )
            self.status.setStyleSheet("")
        self.apply_button.setEnabled(plan.ok and changes > 0)
        self.apply_button.setToolTip("" if self.apply_button.isEnabled() else self.status.text())

    # ---- inspection helpers (tests, accessibility)
    def rows(self) -> list[tuple[str, str, str]]:
        """(name, status, details) of each record as shown."""
        return [
            (self.tree.topLevelItem(i).text(COL_NAME), self.tree.topLevelItem(i).text(COL_STATUS),
             self.tree.topLevelItem(i).text(COL_DETAILS))
            for i in range(self.tree.topLevelItemCount())
        ]

    def problems_shown(self, row: int) -> list[tuple[str, str]]:
        """(field, message) of each problem listed under an invalid record."""
        item = self.tree.topLevelItem(row)
        return [tuple(item.child(i).data(COL_INDEX, Qt.ItemDataRole.UserRole)) for i in range(item.childCount())]

    def child_lines(self, row: int) -> list[str]:
        """The lines under a record: its problems, or what an overwrite that moves endpoints forgets."""
        return self.problem_lines(row)

    def problem_lines(self, row: int) -> list[str]:
        item = self.tree.topLevelItem(row)
        return [item.child(i).text(COL_INDEX) for i in range(item.childCount())]

    @Slot()
    def on_apply_clicked(self) -> None:
        if self.apply_button.isEnabled():
            self.accept()
