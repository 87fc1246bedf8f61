"""The fixed list of listing categories (data, not code: add one here and it exists)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    id: str
    name: str
    description: str


CATEGORIES: tuple[Category, ...] = (
    Category("coding", "Coding", "Write, review, explain and refactor code."),
    Category("writing", "Writing", "Draft, edit, translate and summarise text."),
    Category("research", "Research", "Find, compare and cite information."),
    Category("data", "Data", "Analyse, transform and report on data."),
    Category("productivity", "Productivity", "Plan, organise and automate everyday work."),
    Category("customer-support", "Customer support", "Answer and triage customer questions."),
    Category("education", "Education", "Teach, tutor and quiz."),
    Category("marketing", "Marketing", "Campaigns, copy and audience insight."),
    Category("other", "Other", "Everything else."),
)

CATEGORY_IDS: frozenset[str] = frozenset(c.id for c in CATEGORIES)
