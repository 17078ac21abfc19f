"""quiet: TensorFlow's C++ start-up lines silenced, and nothing else."""

import os
import subprocess
import sys

from swapface import quiet


def test_only_what_is_written_inside_the_block_is_silenced(capfd):
    with quiet.silenced_fd2():
        os.write(2, b"from C++\n")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"


def _import_keras(**env) -> subprocess.CompletedProcess:
    """A fresh interpreter (Keras not yet loaded) that imports it through `quiet`."""
    code = "import os; from swapface import quiet; quiet.import_keras(); print(os.environ['TF_CPP_MIN_LOG_LEVEL'])"
    clean = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**clean, **env},
                          timeout=300)


def test_keras_imports_without_start_up_lines():
    result = _import_keras()
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == quiet.LOG_LEVEL
    assert "oneDNN" not in result.stderr and "absl::InitializeLog" not in result.stderr, result.stderr


def test_a_log_level_the_user_set_is_kept():
    result = _import_keras(TF_CPP_MIN_LOG_LEVEL="1")
    assert result.returncode == 0 and result.stdout.strip() == "1", result.stderr
