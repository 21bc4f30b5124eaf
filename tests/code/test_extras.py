"""TensorFlow comes from exactly one extra (cpu or gpu, same version), and a stage run without
either installed says which to install instead of a traceback."""
import subprocess
import sys
import tomllib

from tests.conftest import REPO


def test_tensorflow_is_only_in_the_cpu_and_gpu_extras_at_one_version():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert not [d for d in project["dependencies"] if d.startswith("tensorflow")]
    extras = project["optional-dependencies"]
    assert extras["cpu"] == ["tensorflow-cpu==2.21.0"]
    assert extras["gpu"] == ["tensorflow[and-cuda]==2.21.0"]
    make = (REPO / "Makefile").read_text()
    assert "-e '.[test,$(FLAVOUR)]'" in make and "FLAVOUR := $(if $(filter 1 yes true,$(GPU)),gpu,cpu)" in make


def test_a_stage_without_tensorflow_names_the_extra_to_install():
    script = ("import sys; sys.modules['tensorflow'] = None\n"  # as if neither extra were installed
              "from rnnops.errors import run_main\n"
              "def main():\n    import tensorflow\n"
              "run_main(main)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == ("error: TensorFlow is not installed. Fix: install rnnops with one of its TensorFlow "
                             "extras, pip install -e '.[cpu]' (or '.[gpu]' on a CUDA machine); `make setup` does it.\n")
