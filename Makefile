# sluice -- the top-level Makefile. It drives the build directory that
# ./configure writes (objs/ by default) and runs the test suites.
#
#   make                build objs/sluice and objs/libsluice.a
#   make run            build, then run sluice in the foreground on conf/
#   make test           build and run every unit and integration suite
#   make test-sanitize  the same, built with ASan + UBSan in objs-sanitize/
#   make test-valgrind  the same under valgrind (no leaks, no errors)
#   make install        install (honours DESTDIR)
#   make clean          remove the build directories

B      = objs
SAN    = objs-sanitize
SHELL  = /bin/sh

default: build

# a changed configure runs again with the arguments it was given last
$(B)/Makefile: configure
	sh t/deps.sh
	if [ -f $(B)/configure.args ]; then \
	    eval ./configure "$$(cat $(B)/configure.args)"; \
	else \
	    ./configure --builddir=$(B); \
	fi

build: $(B)/Makefile
	$(MAKE) -f $(B)/Makefile all

run: $(B)/Makefile
	sh t/deps.sh
	$(MAKE) -f $(B)/Makefile all
	mkdir -p logs
	$(B)/sluice -p $(CURDIR)/ -c conf/sluice.conf -g 'daemon off; master_process off;'

test: $(B)/Makefile
	sh t/deps.sh test
	$(MAKE) -f $(B)/Makefile tests
	sh t/run.sh $(B)

$(SAN)/Makefile: configure
	sh t/deps.sh
	./configure --builddir=$(SAN) --with-cc-opt='-O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all' --with-ld-opt='-fsanitize=address,undefined'

test-sanitize: $(SAN)/Makefile
	sh t/deps.sh test
	$(MAKE) -f $(SAN)/Makefile tests
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    CK_TIMEOUT_MULTIPLIER=4 sh t/run.sh $(SAN)

test-valgrind: $(B)/Makefile
	sh t/deps.sh valgrind
	$(MAKE) -f $(B)/Makefile tests
	SL_VALGRIND=1 CK_FORK=no CK_TIMEOUT_MULTIPLIER=20 sh t/run.sh $(B)

install: $(B)/Makefile
	$(MAKE) -f $(B)/Makefile install

clean:
	rm -rf $(B) $(SAN)

.PHONY: default build run test test-sanitize test-valgrind install clean
