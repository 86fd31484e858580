"""The translation memory: human translations found before the model runs."""

from craft_dag.translation.memory import TranslationMemory, normalise


def test_lookup_ignores_spacing_and_unicode_form_not_case() -> None:
    data = (
        "source,translation,translator\n"
        '"Блины  со сметаной.","Blini with sour cream.",Ольга\n'
        ',"no source",x\n'
    ).encode()
    memory, problems = TranslationMemory.from_csv([("tm/a.csv", data)])
    assert len(memory) == 1
    entry = memory.lookup(" Блины со\nсметаной. ")
    assert entry is not None and (entry.translation, entry.translator) == (
        "Blini with sour cream.",
        "Ольга",
    )
    assert memory.lookup("блины со сметаной.") is None
    assert [(p.where, p.line) for p in problems] == [("tm/a.csv", 3)]
    # "й" written as и + combining breve is the same key as the composed letter.
    assert normalise("Чайный гриб") == normalise("Чаи\u0306ный гриб")


def test_later_files_win_and_bad_files_are_reported() -> None:
    first = b"source,translation\nX,one\n"
    second = b"source,translation\nX,two\n"
    memory, problems = TranslationMemory.from_csv(
        [("a.csv", first), ("b.csv", second), ("c.csv", b"src,tgt\n")]
    )
    assert memory.lookup("X").translation == "two"
    assert problems[0].where == "c.csv" and "missing column(s)" in problems[0].message
