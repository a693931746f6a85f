# tinycodec — `make help` lists the targets.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
TC := $(VENV)/bin/tinycodec
PIO := $(VENV)/bin/pio
BOARD ?= qemu
MODEL ?= models/tc-v4
# the NUCLEO-H743ZI's tflm env keeps tc-v3 unless MODEL is given: tc-v4's TFLM arena (616,448 B with the lean
# TRANSPOSE_CONV; GDN keeps three 64x64x44 tensors alive and TFLM runs no op in place) exceeds the 512 KB AXI SRAM.
# Its gen env (nucleo-h743zi-gen) runs tc-v4 in 67,584 B (encoder, banded) / 225,280 B (decoder) of activations.
ifeq ($(BOARD)$(origin MODEL),nucleo-h743zifile)
MODEL := models/tc-v3
endif
PRESET ?= tc-v4
HOURS ?= 2
QUALITY ?= 2
IMAGES ?= 1
PORT ?=
PYTEST_ARGS ?=
QAT_STEPS ?= 0

# BOARD -> PlatformIO env: the board table (python -m tinycodec.link.boards prints it; real boards: docs/boards.md,
# they need internet on the first build and upload over USB)
BOARDS_TABLE := python/tinycodec/link/boards.txt
board_col = $(shell awk -F' *[|] *' '!/^\#/ && NF > 1 && $$1 == "$(1)" {print $$$(2)}' $(BOARDS_TABLE))
PIO_ENV := $(or $(call board_col,$(BOARD),2),$(error unknown BOARD=$(BOARD); known: $(shell awk -F' *[|] *' '!/^\#/ && NF > 1 {print $$1}' $(BOARDS_TABLE))))
ELF = .pio/build/$(PIO_ENV)/firmware.elf
export PLATFORMIO_CORE_DIR := $(CURDIR)/.pio/core
export TF_USE_LEGACY_KERAS := 1

.PHONY: help setup test demo codegen firmware flash bench train bench-train export eval lint format size clean fuzz

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'
	@echo "  variables: BOARD=$(BOARD) MODEL=$(MODEL) QUALITY=$(QUALITY) IMAGES=$(IMAGES) PORT=socket://..."

setup: ## install Debian packages (Arm GCC, QEMU) and the Python venv (idempotent)
	@scripts/setup.sh

test: setup ## run the whole test suite (Python, C under sanitizers, firmware on QEMU)
	$(PY) -m pytest -q $(PYTEST_ARGS)

demo: setup firmware ## the main job: build the firmware, boot the emulated board, bench the first Kodak image
	$(TC) bench --boot $(ELF) --board $(BOARD) --model $(MODEL) --quality $(QUALITY) --limit $(IMAGES)

codegen: ## generate the firmware's model C from $(MODEL) into firmware/generated/
	$(TC) codegen --manifest $(MODEL) --out firmware/generated
	$(TC) codegen --backend tflm --manifest $(MODEL) --out firmware/generated_tflm

firmware: codegen ## build the firmware for $(BOARD) with PlatformIO (offline)
	$(PIO) run -s -e $(PIO_ENV)

flash: firmware ## deploy to $(BOARD) (qemu: boot it, print its serial URL; real boards: USB upload, docs/boards.md)
	$(PIO) run -e $(PIO_ENV) -t upload

bench: ## run the host benchmark against PORT (e.g. PORT=socket://127.0.0.1:4321 after make flash)
	@test -n "$(PORT)" || { echo "make bench: set PORT=<pyserial URL>, e.g. the one 'make flash' printed"; exit 2; }
	$(TC) bench --port $(PORT) --model $(MODEL) --quality $(QUALITY) --limit $(IMAGES)

train: setup ## train $(PRESET) for HOURS of wall clock (last 15 % at lr/10), continuing its pre-decay state if any
	$(TC) train --preset $(PRESET) --hours $(HOURS) $$(test -d checkpoints/$(PRESET)/ckpt_predecay && echo --from-predecay || echo --resume)

bench-train: setup ## how fast $(PRESET) trains here: px/s, ms per step, threads -> runs/bench-train/$(PRESET).json
	$(TC) train --preset $(PRESET) --bench 100 --json runs/bench-train/$(PRESET).json

.PHONY: bench-kernels
bench-kernels: setup ## instructions per MAC per op and model on the emulated M4 + M55 (QEMU -icount) -> runs/bench-kernels/*.json
	$(PY) scripts/bench_kernels.py --bundle $(MODEL) --quality $(QUALITY)

export: ## export $(PRESET) to int8 TFLite + CDF tables + manifest in models/$(PRESET) (QAT_STEPS=0: PTQ)
	$(TC) export --preset $(PRESET) --qat-steps $(QAT_STEPS)

eval: ## evaluate the shipped model on Kodak vs JPEG/WebP/JPEG 2000; writes models/MODEL_CARD.md
	$(TC) eval --jobs 2 --model $(MODEL) --data ../shared/data/kodak --json models/eval_kodak.json --plot runs/eval/rd_kodak.png

size: firmware ## flash/RAM of the firmware (arm-none-eabi-size)
	arm-none-eabi-size -A $(ELF) | grep -E "^(\.text|\.data|\.bss|\.rodata|section)" ; arm-none-eabi-size $(ELF)

lint: ## ruff + clang-format check
	$(VENV)/bin/ruff check python tests
	@command -v clang-format >/dev/null && find firmware -name '*.[ch]' -not -path '*/generated/*' | xargs clang-format --dry-run -Werror || echo "clang-format not installed; skipped"

format: ## ruff format + clang-format in place
	$(VENV)/bin/ruff format python tests
	@command -v clang-format >/dev/null && find firmware -name '*.[ch]' -not -path '*/generated/*' | xargs clang-format -i || true

clean: ## remove build outputs (keeps the venv and trained runs)
	rm -rf .pio/build build firmware/generated firmware/generated_tflm

FUZZ_SECONDS ?= 60
fuzz: ## libFuzzer/atheris targets (firmware/fuzz/), one at a time, FUZZ_SECONDS each (docs/security.md)
	firmware/fuzz/run.sh $(FUZZ_SECONDS)
