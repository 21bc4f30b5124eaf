"""dvc.yaml's code deps of each stage are exactly its import closure (scripts/stage_deps.py),
and no stage imports another stage's module or the model builders for params validation."""
import pytest
import yaml

from scripts.stage_deps import (PIPELINES, REPO, STAGE_SCRIPTS, closure, imported_modules, rewrite,
                                stage_closure)


def code_deps(stage: dict, folder) -> set[str]:
    """The stage's deps under pipeline/ and src/ (relative to the dvc.yaml's folder), folders
    expanded to their .py files, as repo-relative paths."""
    body = stage.get("do", stage)
    out: set[str] = set()
    for dep in body["deps"]:
        path = (folder / dep).resolve()
        if not path.relative_to(REPO).as_posix().startswith(("pipeline/", "src/")):
            continue
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        out |= {f.relative_to(REPO).as_posix() for f in files if "__pycache__" not in f.parts}
    return out


@pytest.mark.parametrize("pipeline", sorted(PIPELINES))
@pytest.mark.parametrize("stage", sorted(STAGE_SCRIPTS))
def test_code_deps_are_exactly_the_import_closure(pipeline, stage):
    stages = yaml.safe_load((REPO / pipeline).read_text())["stages"]
    wanted = stage_closure(stage, PIPELINES[pipeline])
    listed = code_deps(stages[stage], (REPO / pipeline).parent)
    missing, surplus = sorted(wanted - listed), sorted(listed - wanted)
    assert not missing and not surplus, (
        f"{pipeline} stage '{stage}': add to deps {missing}; remove from deps {surplus} "
        "(its pipeline script imports exactly the former, transitively, for its task). "
        "Fix: python scripts/stage_deps.py --write")


@pytest.mark.parametrize("pipeline", sorted(PIPELINES))
def test_every_stage_script_has_a_stage(pipeline):
    stages = yaml.safe_load((REPO / pipeline).read_text())["stages"]
    assert set(STAGE_SCRIPTS) == set(stages)
    assert {p.stem for p in (REPO / "pipeline").glob("*.py")} == set(STAGE_SCRIPTS.values())


def test_a_task_s_stages_do_not_depend_on_another_task_s_modules():
    for stage in STAGE_SCRIPTS:
        text = stage_closure(stage, "text_classification")
        forecast = stage_closure(stage, "forecast")
        assert not {p for p in text if "/tasks/forecast/" in p}, stage
        # (the text layers and text pyfunc stay: the shared Keras loader registers every custom
        # layer, and the shared model logging names the text pyfunc)
        text_only = {"/data/sources/", "/data/prepared.py", "/stages/prepare.py", "/stages/train.py",
                     "/stages/evaluate.py", "/stages/report.py"}
        assert not {p for p in forecast if any(part in p for part in text_only)}, (stage, forecast)


def test_rewrite_fixes_a_wrong_list_and_keeps_the_rest():
    text = (REPO / "dvc.yaml").read_text()
    broken = text.replace("\n      - src/rnnops/data/splits.py\n", "\n", 1)   # prepare
    broken = broken.replace("\n      - src/rnnops/stages/prepare.py\n", "\n      - src/rnnops/stages/prepare.py\n"
                            "      - src/rnnops/models/bodies.py\n", 1)
    assert broken != text and rewrite(broken) == rewrite(text)
    assert yaml.safe_load(rewrite(broken))["plots"] == yaml.safe_load(text)["plots"]


def test_the_closure_follows_lazy_imports_and_named_modules(tmp_path):
    # the closure is what the test above trusts: check it on known cases
    prepare = stage_closure("prepare", "text_classification")
    assert "src/rnnops/data/sources/imdb.py" in prepare          # imported inside load_source()
    assert "src/rnnops/models/bodies.py" not in prepare          # params validation is builder-free
    assert "src/rnnops/tracking/serving.py" in stage_closure("train", "text_classification")  # named
    assert "src/rnnops/tasks/forecast/serving.py" in stage_closure("train", "forecast")
    assert "src/rnnops/data/__init__.py" in prepare              # packages on the way count


def test_params_validation_does_not_need_keras_or_the_builders():
    reached = closure(REPO / "src" / "rnnops" / "params" / "load.py")
    assert not {p for p in reached if "/models/" in p or "/training/" in p or "/stages/" in p}, reached


def test_no_stage_module_imports_another_stage():
    for path in sorted((REPO / "src" / "rnnops" / "stages").glob("*.py")):
        other = {m for m in imported_modules(path) if m.startswith("rnnops.stages")}
        assert other <= {f"rnnops.stages.{path.stem}"}, f"{path.name} imports {other}"


def test_no_library_module_imports_a_stage():
    for path in sorted((REPO / "src" / "rnnops").rglob("*.py")):
        if "stages" in path.parts:
            continue
        assert not {m for m in imported_modules(path) if m.startswith("rnnops.stages")}, path
