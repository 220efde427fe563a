// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer harness for the steering parsers of user/steer.c: --key (a
 * Toeplitz key in hex), --indir (an indirection table) and --rule
 * (PROTO:SRC:SPORT:DST:DPORT=QUEUE, IPv6 in brackets). The first byte picks
 * the parser, the second the tap's queue count (1..256); an accepted table
 * or rule never names a queue the tap does not have.
 */
#include <netinet/in.h>

#include "tapflow.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint16_t indir[TF_STEER_INDIR_MAX];
	uint8_t key[TF_STEER_KEY_LEN];
	struct tf_steer_rule_q rq;
	unsigned int nq, len;
	char *s;

	if (size < 2)
		return 0;
	nq = data[1] + 1u;
	s = fuzz_str(data, size, 2);
	switch (data[0] % 3) {
	case 0:
		tf_steer_parse_key(s, key);
		break;
	case 1:
		if (!tf_steer_parse_indir(s, nq, indir, &len)) {
			FUZZ_CHECK(len >= 1 && len <= TF_STEER_INDIR_MAX && !(len & (len - 1)),
				   "'%s': %u entries", s, len);
			for (unsigned int i = 0; i < len; i++)
				FUZZ_CHECK(indir[i] < nq, "'%s': queue %u of %u", s, indir[i], nq);
		}
		break;
	default:
		if (!tf_steer_parse_rule(s, nq, &rq)) {
			FUZZ_CHECK(rq.queue < nq, "'%s': queue %u of %u", s, rq.queue, nq);
			FUZZ_CHECK(rq.rule.proto == 0 || rq.rule.proto == IPPROTO_TCP ||
				   rq.rule.proto == IPPROTO_UDP, "'%s': proto %u", s, rq.rule.proto);
		}
		break;
	}
	free(s);
	return 0;
}
