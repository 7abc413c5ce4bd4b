# sluice -- the top-level Makefile. It drives the build directory that
# ./configure writes (objs/ by default) and runs the test suites.
#
#   make                build objs/sluice and objs/libsluice.a
#   make run            build, then run sluice in the foreground on conf/
#   make test           build and run every unit and integration suite
#   make test-sanitize  the same, built with ASan + UBSan in objs-sanitize/
#   make test-valgrind  the same under valgrind (no leaks, no errors)
#   make test-tsan      the threaded embedding suites under ThreadSanitizer
#   make test-hostile   the hostile-condition suites (t/hostile) at full size
#   make certs          throwaway certificates for conf/tls-echo.conf and
#                       conf/tls-proxy.conf
#   make install        install (honours DESTDIR)
#   make fuzz           libFuzzer on every target of t/fuzz (make test runs
#                       each briefly without libFuzzer: test_fuzz_smoke)
#   make clean          remove the build directories (objs*)

B      = objs
SAN    = objs-sanitize
TSAN   = objs-tsan
SHELL  = /bin/sh

default: build

# a changed configure runs again with the arguments it was given last;
# plain make installs nothing (t/deps.sh check only names what is missing),
# make run and make test install first, then come here
$(B)/Makefile: configure
	sh t/deps.sh check
	if [ -f $(B)/configure.args ]; then \
	    eval ./configure "$$(cat $(B)/configure.args)"; \
	else \
	    ./configure --builddir=$(B); \
	fi

build: $(B)/Makefile
	$(MAKE) -f $(B)/Makefile all

run:
	sh t/deps.sh
	$(MAKE) $(B)/Makefile
	$(MAKE) -f $(B)/Makefile all
	mkdir -p logs
	$(B)/sluice -p $(CURDIR)/ -c conf/sluice.conf -g 'daemon off; master_process off;'

test:
	sh t/deps.sh test
	$(MAKE) $(B)/Makefile
	$(MAKE) -f $(B)/Makefile tests
	sh t/run.sh $(B)

$(SAN)/Makefile: configure
	sh t/deps.sh check
	./configure --builddir=$(SAN) --with-cc-opt='-O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all' --with-ld-opt='-fsanitize=address,undefined'

test-sanitize:
	sh t/deps.sh test
	$(MAKE) $(SAN)/Makefile
	$(MAKE) -f $(SAN)/Makefile tests
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    CK_TIMEOUT_MULTIPLIER=4 sh t/run.sh $(SAN)

test-valgrind:
	sh t/deps.sh valgrind
	$(MAKE) $(B)/Makefile
	$(MAKE) -f $(B)/Makefile tests
	SL_VALGRIND=1 CK_FORK=no CK_TIMEOUT_MULTIPLIER=20 sh t/run.sh $(B)

# the hostile-condition suites at the sizes of their figures (make test
# runs them small); each prints "hostile: CHECK: ..." lines
test-hostile:
	sh t/deps.sh test
	$(MAKE) $(B)/Makefile
	$(MAKE) -f $(B)/Makefile tests
	SL_HOSTILE=full SL_SUITE_TIMEOUT=1800 SL_TESTS='test_hostile_*' \
	    sh t/run.sh $(B)

# ThreadSanitizer: the suites that run instances in several threads
# (SL_TESTS chooses others). Static links are refused by TSan, so the
# suites that build hosts from the installed tree are not among them.
TSAN_TESTS = test_embed_api test_embed_host

$(TSAN)/Makefile: configure
	sh t/deps.sh check
	./configure --builddir=$(TSAN) --with-cc-opt='-O1 -g -fno-omit-frame-pointer -fsanitize=thread' --with-ld-opt='-fsanitize=thread'

test-tsan:
	sh t/deps.sh test
	$(MAKE) $(TSAN)/Makefile
	$(MAKE) -f $(TSAN)/Makefile tests
	TSAN_OPTIONS='halt_on_error=1 second_deadlock_stack=1' \
	    CK_TIMEOUT_MULTIPLIER=4 SL_TESTS="$${SL_TESTS:-$(TSAN_TESTS)}" \
	    sh t/run.sh $(TSAN)

install: $(B)/Makefile
	$(MAKE) -f $(B)/Makefile install

clean:
	rm -rf $(B) $(SAN) $(TSAN) objs-fuzz

.PHONY: default build run test test-sanitize test-valgrind test-hostile test-tsan \
        install clean

# make certs -- throwaway self-signed certificates for conf/tls-echo.conf
# and conf/tls-proxy.conf (conf/NAME.crt and .key, kept when they exist;
# FORCE=1 remakes them)
certs:
	sh t/mkcert.sh conf tls-echo
	sh t/mkcert.sh conf tls-proxy

.PHONY: certs

# make fuzz -- the libFuzzer targets of t/fuzz (not part of `make test`):
# the library compiled again with clang -fsanitize=fuzzer-no-link,address,
# undefined into $(FUZZ)/, each target linked, then run for FUZZ_TIME
# seconds on a copy of its seed corpus. Needs clang and its runtime, which
# Debian ships as libclang-rt-<version>-dev (libclang-rt-14-dev for clang 14).
# See t/fuzz/README.md.
FUZZ       = objs-fuzz
FUZZ_CC    = clang
FUZZ_TIME  = 60
FUZZ_FLAGS = -std=c11 -g -O1 -fno-omit-frame-pointer \
             -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_INCS  = -Isrc/core -Isrc/os/unix -Isrc/event -Isrc/event/modules \
             -Isrc/ssl -Isrc/stream -Isrc/embed -Isrc/daemon -I$(B)
FUZZ_SRCS  = $(filter-out src/daemon/sluice.c src/event/modules/sl_kqueue_module.c, \
             $(sort $(wildcard src/core/*.c src/os/unix/*.c src/event/*.c \
             src/event/modules/*.c src/ssl/*.c src/stream/*.c \
             src/embed/*.c src/daemon/*.c))) \
             $(B)/sl_modules.c
FUZZ_OBJS  = $(patsubst %.c,$(FUZZ)/%.o,$(FUZZ_SRCS:$(B)/%=%))
FUZZ_BINS  = $(FUZZ)/fuzz_conf $(FUZZ)/fuzz_param \
             $(FUZZ)/fuzz_proxy_protocol $(FUZZ)/fuzz_ssl_preread

fuzz-check:
	@echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n);' \
	    'int LLVMFuzzerTestOneInput(const char *d, unsigned long n)' \
	    '{ (void) d; (void) n; return 0; }' > $(FUZZ)-check.c
	@$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $(FUZZ)-check \
	    $(FUZZ)-check.c 2>/dev/null \
	 || { rm -f $(FUZZ)-check $(FUZZ)-check.c; \
	      echo "make fuzz: '$(FUZZ_CC) -fsanitize=fuzzer,address,undefined'" \
	           "does not link: install clang and its runtime" \
	           "(Debian: apt-get install clang libclang-rt-14-dev, or the" \
	           "libclang-rt-N-dev matching 'clang --version')" >&2; exit 1; }
	@rm -f $(FUZZ)-check $(FUZZ)-check.c

$(FUZZ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -c $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link $(FUZZ_INCS) -o $@ $<

$(FUZZ)/sl_modules.o: $(B)/sl_modules.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -c $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link $(FUZZ_INCS) -o $@ $<

# fuzz_proxy_protocol links core alone, and sees only core's headers: the
# PROXY protocol's wire format (src/core/sl_proxy_protocol.c) needs no
# loop, no connection and no module. Core is src/core and src/os/unix but
# for os/unix's socket I/O, which is the event layer's (t/unit/test_layers.c);
# an archive, so that only what the parser uses is linked.
FUZZ_CORE_SRCS = $(filter-out src/os/unix/sl_recv.c src/os/unix/sl_send.c \
             src/os/unix/sl_splice.c, \
             $(sort $(wildcard src/core/*.c src/os/unix/*.c)))
FUZZ_CORE_OBJS = $(patsubst %.c,$(FUZZ)/%.o,$(FUZZ_CORE_SRCS))

$(FUZZ)/libsl_core.a: $(FUZZ_CORE_OBJS)
	rm -f $@
	ar rcs $@ $(FUZZ_CORE_OBJS)

$(FUZZ)/fuzz_proxy_protocol: t/fuzz/fuzz_proxy_protocol.c $(FUZZ)/libsl_core.a
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -Isrc/core -Isrc/os/unix \
	    -I$(B) -o $@ $< $(FUZZ)/libsl_core.a

# fuzz_ssl_preread: the ClientHello parser of ssl_preread, a stream file
# that needs nothing above core either; compiled here with core's headers
# alone, so that the build keeps it so
$(FUZZ)/ssl_preread_parser.o: src/stream/sl_stream_ssl_preread_parser.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -c $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -Isrc/core \
	    -Isrc/os/unix -I$(B) -o $@ $<

$(FUZZ)/fuzz_ssl_preread: t/fuzz/fuzz_ssl_preread.c \
	    $(FUZZ)/ssl_preread_parser.o $(FUZZ)/libsl_core.a
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -Isrc/core -Isrc/os/unix \
	    -Isrc/stream -I$(B) -o $@ $< $(FUZZ)/ssl_preread_parser.o \
	    $(FUZZ)/libsl_core.a

$(FUZZ)/fuzz_%: t/fuzz/fuzz_%.c t/fuzz/fuzz_common.h $(FUZZ_OBJS)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer $(FUZZ_INCS) -o $@ $< \
	    $(FUZZ_OBJS) -lssl -lcrypto -lpcre2-8 -ldl -lpthread

fuzz-build: $(B)/Makefile fuzz-check
	$(MAKE) $(FUZZ_BINS)

# every target, FUZZ_TIME seconds each, on a copy of its corpus; an input
# that crashes one is copied into its corpus (t/fuzz/corpus/TARGET/), so
# that the smoke of `make test` (test_fuzz_smoke) replays it from then on
fuzz: fuzz-build
	for t in conf param proxy_protocol ssl_preread; do \
	    rm -rf $(FUZZ)/corpus-$$t $(FUZZ)/crash-$$t; \
	    mkdir -p $(FUZZ)/corpus-$$t $(FUZZ)/crash-$$t; \
	    cp t/fuzz/corpus/$$t/* $(FUZZ)/corpus-$$t/; \
	    case $$t in \
	        proxy_protocol) opts='-max_len=4200' ;; \
	        ssl_preread) opts='-max_len=20000' ;; \
	        *) opts='-dict=t/fuzz/conf.dict' ;; \
	    esac; \
	    ASAN_OPTIONS=detect_leaks=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    $(FUZZ)/fuzz_$$t -max_total_time=$(FUZZ_TIME) -timeout=10 \
	        -rss_limit_mb=2048 -artifact_prefix=$(FUZZ)/crash-$$t/ \
	        $$opts $(FUZZ)/corpus-$$t \
	    || { for f in $(FUZZ)/crash-$$t/*; do \
	             [ -f "$$f" ] && cp "$$f" t/fuzz/corpus/$$t/; \
	         done; \
	         echo "make fuzz: fuzz_$$t failed; its input is kept in" \
	              "t/fuzz/corpus/$$t/" >&2; exit 1; }; \
	done

fuzz-clean:
	rm -rf $(FUZZ)

.SECONDARY: $(FUZZ_OBJS) $(FUZZ_CORE_OBJS)
.PHONY: fuzz fuzz-check fuzz-build fuzz-clean
