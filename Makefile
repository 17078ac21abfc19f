# Two commands do everything on a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
# Prebuilt wheels only, so nothing compiles (dlib from dlib-bin). One pure-Python package
# publishes no wheel: face-recognition-models 0.3 (dlib's model files).
PIP_FLAGS := --only-binary=:all: --no-binary=face-recognition-models
BACKEND ?= cpu

.PHONY: install demo test notebooks lab benchmark clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(PIP_FLAGS) -e '.[$(BACKEND),dev,notebooks]'
	touch $@

demo: install
	$(VENV)/bin/swapface demo

test: install $(VENV)/.torch
	$(PY) -m pytest -q -ra
	# The model, losses and training again on a second Keras backend (PyTorch, CPU build):
	# the package only uses keras.ops, and this keeps it so. Subprocess runs are TensorFlow's.
	if $(PY) -c "import torch" 2>/dev/null; then \
		KERAS_BACKEND=torch $(PY) -m pytest -q -ra -p no:cacheprovider -m "not slow" \
			tests/test_model.py tests/test_saving.py tests/test_losses.py tests/test_train.py \
			tests/test_adversarial.py::test_each_step_moves_only_its_own_networks; \
	else echo "PyTorch could not be installed: the second-backend run is skipped"; fi

# PyTorch's CPU build for the second-backend tests: the wheel on disk where there is one
# (CI), else PyTorch's CPU index (PyPI's default torch is a multi-GB CUDA build). Where
# neither is reachable the second-backend run is skipped, not failed.
TORCH_WHEEL := $(firstword $(wildcard /opt/wheels/torch-*+cpu-*.whl))
$(VENV)/.torch: $(VENV)/.installed
	$(PY) -m pip install -q $(if $(TORCH_WHEEL),$(TORCH_WHEEL),torch --index-url https://download.pytorch.org/whl/cpu) \
		|| echo "PyTorch not installed"
	touch $@

# Re-execute the notebooks in place (the saved outputs are what GitHub shows). Headless, so
# progress bars are text, saved as their last state (coalesce_streams), and controls show
# their default figure (swapface.notebook).
notebooks: install
	cd notebooks && for nb in 1_training_data 2_train 3_prediction 4_evaluate 5_spotting_a_swap 6_your_own_pair; do \
		../$(PY) -c 'import sys, papermill; papermill.execute_notebook(sys.argv[1], sys.argv[1], \
			progress_bar=False, coalesce_streams=True)' $$nb.ipynb || exit 1; done

# Open the notebooks in JupyterLab, in the venv (its kernel is the default); live controls work there.
lab: install
	$(VENV)/bin/jupyter lab notebooks

benchmark: install
	$(PY) benchmarks/extract_speed.py
	$(PY) benchmarks/train_speed.py
	$(PY) benchmarks/convert_speed.py

clean:
	rm -rf demo-output .pytest_cache
