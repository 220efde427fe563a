// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer harness for the exporter's --listen parser
 * (tf_export_parse_listen): ADDR:PORT, [V6ADDR]:PORT or :PORT. An accepted
 * address is AF_INET or AF_INET6 with the matching length.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include "tapflow.h"
#include "tf_export.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	char *s = fuzz_str(data, size, 0);

	if (!tf_export_parse_listen(s, &ss, &len))
		FUZZ_CHECK((ss.ss_family == AF_INET && len == sizeof(struct sockaddr_in)) ||
			   (ss.ss_family == AF_INET6 && len == sizeof(struct sockaddr_in6)),
			   "'%s': family %d len %u", s, ss.ss_family, (unsigned int)len);
	free(s);
	return 0;
}
