# Vigil - runtime security sensor for Kubernetes nodes.
#
#   make run     install what is missing, build, start the sensor
#   make test    install, build (ASan+UBSan), run every test
#   make bench   measure the sensor's cost (root)
#   make deps | all | clean

BUILD    ?= build
CC       ?= gcc
CLANG    ?= clang
BPFTOOL  ?= bpftool
ARCH     ?= $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

CFLAGS_COMMON := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -MMD -MP \
                 -iquote sensor -I$(BUILD)/bpf
CFLAGS_RELEASE := $(CFLAGS_COMMON) -O2
CFLAGS_ASAN    := $(CFLAGS_COMMON) -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
                  -fno-sanitize-recover=undefined
LDLIBS := -lbpf -lelf -lz -lcjson -lmicrohttpd -lcurl -lyaml -lprotobuf-c -lpthread -lm

# The user-space modules, in pipeline order.
SENSOR_SRCS := \
	sensor/log.c sensor/clock.c sensor/json_writer.c \
	sensor/bpf_env.c sensor/kernel_features.c \
	sensor/event.c sensor/syscall_table.c sensor/decode.c sensor/event_json.c \
	sensor/probe.c sensor/platform_ebpf.c sensor/platform_replay.c \
	sensor/proc_snapshot.c sensor/proc_cache.c \
	sensor/container_id.c sensor/cri.c sensor/cri_proto/cri.pb-c.c sensor/container_cache.c \
	sensor/secl_lex.c sensor/secl_parse.c sensor/secl_eval.c sensor/policy.c \
	sensor/rule_fields.c sensor/rules.c \
	sensor/config.c sensor/pipeline.c sensor/telemetry.c \
	sensor/metrics.c sensor/health.c sensor/http_api.c \
	sensor/output.c sensor/output_stdout.c sensor/output_file.c sensor/output_webhook.c

BPF_SRCS := bpf/vigil.bpf.c bpf/process.bpf.c bpf/syscalls.bpf.c
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
SKEL     := $(BUILD)/bpf/vigil.skel.h
VMLINUX  := $(BUILD)/vmlinux.h

UNIT_TESTS := test_decode test_event_json test_config test_output test_metrics test_http_api \
	test_proc_cache test_proc_snapshot test_container_id test_cri_proto test_container_cache \
	test_features test_secl test_policy test_decode_syscall
INTEG_TESTS := test_replay test_sensor_process test_sensor_http test_sensor_rules \
	test_sensor_files test_sensor_kernel test_sensor_net test_sensor_containers test_prometheus test_cri \
	test_helm test_fuzz_secl test_policy_quiet test_webhook test_schema

# Integration tests written in shell (tests/integration/NAME.sh).
SHELL_TESTS := test_prometheus test_helm test_fuzz_secl test_policy_quiet test_webhook test_schema

REL_OBJS  := $(patsubst sensor/%.c,$(BUILD)/obj/%.o,$(SENSOR_SRCS))
ASAN_OBJS := $(patsubst sensor/%.c,$(BUILD)/asan/%.o,$(SENSOR_SRCS))

.PHONY: all run test unit integration bench deps clean
all: $(BUILD)/vigil

deps:
	@bash hack/deps.sh

# vmlinux.h: from this kernel's BTF when it has one, else the committed copy
# (container builds have no /sys/kernel/btf).
$(VMLINUX):
	@mkdir -p $(@D)
	@if [ -r /sys/kernel/btf/vmlinux ]; then \
		$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@; \
	else \
		cp bpf/vmlinux/$(shell uname -m)/vmlinux.h $@; \
	fi

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c bpf/common.bpf.h bpf/vigil_abi.h $(VMLINUX)
	@mkdir -p $(@D)
	$(CLANG) -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_$(ARCH) -I$(BUILD) -Ibpf -c $< -o $@

$(BUILD)/bpf/vigil.o: $(BPF_OBJS)
	$(BPFTOOL) gen object $@ $^

$(SKEL): $(BUILD)/bpf/vigil.o
	$(BPFTOOL) gen skeleton $< name vigil_bpf > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/%.o: sensor/%.c $(SKEL)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_RELEASE) -c $< -o $@

$(BUILD)/asan/%.o: sensor/%.c $(SKEL)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ASAN) -c $< -o $@

# The default policy is linked in as data (symbols _binary_policies_default_yaml_*).
$(BUILD)/default_policy.o: policies/default.yaml
	@mkdir -p $(@D)
	ld -r -b binary -z noexecstack -o $@ policies/default.yaml

$(BUILD)/libvigil.a: $(REL_OBJS) $(BUILD)/default_policy.o
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libvigil-asan.a: $(ASAN_OBJS) $(BUILD)/default_policy.o
	rm -f $@ && ar rcs $@ $^

$(BUILD)/vigil: $(BUILD)/obj/main.o $(BUILD)/libvigil.a
	$(CC) $(CFLAGS_RELEASE) -o $@ $^ $(LDLIBS)

$(BUILD)/vigil-asan: $(BUILD)/asan/main.o $(BUILD)/libvigil-asan.a
	$(CC) $(CFLAGS_ASAN) -o $@ $^ $(LDLIBS)

# Tests: one Criterion binary per file, all built with ASan+UBSan.
$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libvigil-asan.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ASAN) -Itests -o $@ $< $(BUILD)/libvigil-asan.a $(LDLIBS) -lcriterion

$(BUILD)/tests/%: tests/integration/%.c $(BUILD)/libvigil-asan.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ASAN) -Itests -o $@ $< $(BUILD)/libvigil-asan.a $(LDLIBS) -lcriterion

run: deps $(BUILD)/vigil
	$(BUILD)/vigil run

test: 
	@bash hack/deps.sh --test
	@$(MAKE) --no-print-directory $(BUILD)/vigil $(BUILD)/vigil-asan \
		$(addprefix $(BUILD)/tests/,$(UNIT_TESTS) $(filter-out $(SHELL_TESTS),$(INTEG_TESTS)))
	@bash hack/cri-up.sh > $(BUILD)/cri-up.log 2>&1 || { cat $(BUILD)/cri-up.log; exit 1; }
	@VIGIL=$(BUILD)/vigil-asan bash hack/run-tests.sh $(BUILD)/tests $(UNIT_TESTS) $(INTEG_TESTS); \
		rc=$$?; bash hack/cri-down.sh > $(BUILD)/cri-down.log 2>&1; exit $$rc

$(BUILD)/bench/micro: tests/bench/micro.c $(BUILD)/libvigil.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_RELEASE) -o $@ $< $(BUILD)/libvigil.a $(LDLIBS)

bench: deps $(BUILD)/vigil $(BUILD)/bench/micro
	$(BUILD)/bench/micro | tee $(BUILD)/bench-micro.txt
	bash hack/bench.sh

clean:
	rm -rf $(BUILD)

-include $(REL_OBJS:.o=.d) $(ASAN_OBJS:.o=.d) $(BUILD)/obj/main.d $(BUILD)/asan/main.d
