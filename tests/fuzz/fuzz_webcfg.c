// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer harness for the exporter's web configuration file
 * (tf_webcfg_load, user/export_webcfg.c: exporter-toolkit's YAML, parsed
 * with libyaml): every input is a config file (a memfd, opened by its
 * /proc path, so relative certificate paths lead nowhere) that must load or
 * be refused with a message, never crash or leak.
 *
 * bcrypt's cost is exponential and taken from the hash (each one is tried
 * once at load): a hash with a cost above 10 is left out here, or a
 * mutation to cost 31 would run for hours. The file is written by whoever
 * runs the exporter, so that is theirs to choose, not an attack.
 */
#include <sys/mman.h>
#include <unistd.h>

#include "tapflow.h"
#include "export_priv.h"
#include "fuzz.h"

static bool dear_bcrypt(const uint8_t *d, size_t n)
{
	for (size_t i = 0; i + 6 < n; i++)
		if (d[i] == '$' && d[i + 1] == '2' && d[i + 3] == '$' &&
		    d[i + 4] >= '0' && d[i + 4] <= '9' && d[i + 5] >= '0' && d[i + 5] <= '9' &&
		    (d[i + 4] - '0') * 10 + (d[i + 5] - '0') > 10)
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tf_webcfg *c = NULL;
	char path[64];
	int fd, err;

	if (size > 65536 || dear_bcrypt(data, size))
		return 0;
	fd = memfd_create("webcfg", MFD_CLOEXEC);
	FUZZ_CHECK(fd >= 0, "memfd_create");
	FUZZ_CHECK(write(fd, data, size) == (ssize_t)size, "write");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	err = tf_webcfg_load(path, &c);
	if (err)
		FUZZ_CHECK(err < 0 && tf_errmsg()[0] && !c, "%d without a message", err);
	tf_webcfg_free(c);
	close(fd);
	return 0;
}
