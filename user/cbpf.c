// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Classic BPF -> eBPF, for pcap filters that must run inside a tracing
 * program before a packet is copied to user space. libpcap only produces
 * classic BPF (cbpf_pcap.c asks it), which the kernel runs on sockets, not
 * in tracing programs; so each classic instruction becomes a few eBPF ones
 * that work on the copy the capture program made (tf_capture_shared.h
 * gives the registers). Classic loads past the end of the packet make the
 * filter reject it, as in libpcap's interpreter: every load is checked
 * against the bytes copied (r2, known only at run time) and, for the
 * verifier, against the scratch buffer's size.
 *
 * The result is exactly TF_CBPF_REGION instructions:
 *
 *   w0 = 0; if w0 == 0 goto body     (the verifier sees the skip is taken
 *   w0 = 0 ... (unused, never run)    and drops the unused moves)
 *   body: w4 = 0; w5 = 0; <translated>; [fail: w0 = 0; goto end]
 *   end:  (first instruction after the region)
 *
 * Classic jumps only go forward, so one pass with a fix-up list does it.
 * tf_cbpf_patch() writes the region over each placeholder (bpf/cbpf.bpf.h)
 * of a not yet loaded object, keeping every instruction index, so libbpf's
 * relocations still apply.
 */
#include <errno.h>
#include <string.h>
#include <stdlib.h>
#include <linux/bpf.h>
#include <bpf/libbpf.h>

#include "tf_capture.h"
#include "tf_capture_shared.h"

/* classic BPF's fields (linux/filter.h spells them the same) */
#define C_CLASS(c) ((c) & 0x07)
#define C_SIZE(c) ((c) & 0x18)
#define C_MODE(c) ((c) & 0xe0)
#define C_OP(c) ((c) & 0xf0)
#define C_SRC(c) ((c) & 0x08)
#define C_RVAL(c) ((c) & 0x18)
#define C_MISCOP(c) ((c) & 0xf8)

enum { C_LD = 0, C_LDX = 1, C_ST = 2, C_STX = 3, C_ALU = 4, C_JMP = 5, C_RET = 6, C_MISC = 7 };
enum { C_W = 0x00, C_H = 0x08, C_B = 0x10 };
enum { C_IMM = 0x00, C_ABS = 0x20, C_IND = 0x40, C_MEM = 0x60, C_LEN = 0x80, C_MSH = 0xa0 };
enum { C_K = 0x00, C_X = 0x08, C_A = 0x10 };
enum { C_TAX = 0x00, C_TXA = 0x80 };

enum { R_T = 0, R_DATA = 1, R_LEN = 2, R_MEM = 3, R_A = 4, R_X = 5 };

#define T_END (-1)	/* jump to the end of the region */
#define T_FAIL (-2)	/* jump to the reject block */

struct fixup {
	unsigned int at;	/* body index of the jump */
	int target;		/* classic index, T_END or T_FAIL */
};

struct tx {
	struct bpf_insn body[TF_CBPF_REGION];
	unsigned int n;
	struct fixup fix[TF_CBPF_REGION];
	unsigned int nfix;
	bool full;
};

static void put(struct tx *t, __u8 code, __u8 dst, __u8 src, __s16 off, __s32 imm)
{
	if (t->n >= TF_CBPF_REGION) {
		t->full = true;
		return;
	}
	t->body[t->n++] = (struct bpf_insn){ .code = code, .dst_reg = dst, .src_reg = src,
					     .off = off, .imm = imm };
}

static void jump(struct tx *t, __u8 code, __u8 dst, __u8 src, __s32 imm, int target)
{
	if (t->nfix < TF_CBPF_REGION && t->n < TF_CBPF_REGION)
		t->fix[t->nfix++] = (struct fixup){ t->n, target };
	put(t, code, dst, src, 0, imm);
}

static __u8 ld_size(__u16 code, unsigned int *bytes)
{
	switch (C_SIZE(code)) {
	case C_W: *bytes = 4; return BPF_W;
	case C_H: *bytes = 2; return BPF_H;
	default:  *bytes = 1; return BPF_B;
	}
}

/*
 * r0 = the packet's bytes [k, k + size), or with `ind` [X + k, X + k + size)
 * (network order -> host), or reject. Both are checked against the bytes
 * copied; the indexed one also against the buffer, for the verifier.
 */
static void load_pkt(struct tx *t, __u16 code, __u32 k, bool ind)
{
	unsigned int s;
	__u8 sz = ld_size(code, &s);

	if (k > TF_CAP_MAX - s) {
		jump(t, BPF_JMP | BPF_JA, 0, 0, 0, T_FAIL);
		return;
	}
	if (ind) {
		put(t, BPF_ALU | BPF_MOV | BPF_X, R_T, R_X, 0, 0);
		put(t, BPF_ALU64 | BPF_ADD | BPF_K, R_T, 0, 0, k + s);
		jump(t, BPF_JMP | BPF_JGT | BPF_X, R_T, R_LEN, 0, T_FAIL);
		jump(t, BPF_JMP | BPF_JGT | BPF_K, R_T, 0, TF_CAP_MAX, T_FAIL);
		put(t, BPF_ALU64 | BPF_ADD | BPF_X, R_T, R_DATA, 0, 0);
		put(t, BPF_LDX | BPF_MEM | sz, R_T, R_T, -(int)s, 0);
	} else {
		jump(t, BPF_JMP | BPF_JLT | BPF_K, R_LEN, 0, k + s, T_FAIL);
		put(t, BPF_LDX | BPF_MEM | sz, R_T, R_DATA, k, 0);
	}
	if (s > 1)
		put(t, BPF_ALU | BPF_END | BPF_TO_BE, R_T, 0, 0, s * 8);
}

static int alu(struct tx *t, __u16 code, __u32 k)
{
	static const __u8 ops[16] = {
		[0x0] = BPF_ADD, [0x1] = BPF_SUB, [0x2] = BPF_MUL, [0x3] = BPF_DIV,
		[0x4] = BPF_OR,  [0x5] = BPF_AND, [0x6] = BPF_LSH, [0x7] = BPF_RSH,
		[0x8] = BPF_NEG, [0x9] = BPF_MOD, [0xa] = BPF_XOR,
	};
	__u8 op = ops[C_OP(code) >> 4];

	if (C_OP(code) > 0xa0 || (op == BPF_ADD && C_OP(code) != 0))
		return -EINVAL;
	if (op == BPF_NEG) {
		put(t, BPF_ALU | BPF_NEG, R_A, 0, 0, 0);
		return 0;
	}
	if (C_SRC(code) == C_X) {
		if (op == BPF_DIV || op == BPF_MOD)
			jump(t, BPF_JMP32 | BPF_JEQ | BPF_K, R_X, 0, 0, T_FAIL);
		put(t, BPF_ALU | op | BPF_X, R_A, R_X, 0, 0);
		return 0;
	}
	if ((op == BPF_DIV || op == BPF_MOD) && k == 0) {
		jump(t, BPF_JMP | BPF_JA, 0, 0, 0, T_FAIL);
		return 0;
	}
	if ((op == BPF_LSH || op == BPF_RSH) && k >= 32)
		return -EINVAL;
	put(t, BPF_ALU | op | BPF_K, R_A, 0, 0, (__s32)k);
	return 0;
}

static int cond(struct tx *t, const struct tf_cbpf_insn *in, unsigned int i)
{
	__u8 op;

	switch (C_OP(in->code)) {
	case 0x00:	/* JA */
		jump(t, BPF_JMP | BPF_JA, 0, 0, 0, (int)(i + 1 + in->k));
		return 0;
	case 0x10: op = BPF_JEQ; break;
	case 0x20: op = BPF_JGT; break;
	case 0x30: op = BPF_JGE; break;
	case 0x40: op = BPF_JSET; break;
	default: return -EINVAL;
	}
	/* 32-bit compares: classic K is unsigned 32-bit, eBPF's imm would sign-extend */
	if (C_SRC(in->code) == C_X)
		jump(t, BPF_JMP32 | op | BPF_X, R_A, R_X, 0, (int)(i + 1 + in->jt));
	else
		jump(t, BPF_JMP32 | op | BPF_K, R_A, 0, (__s32)in->k, (int)(i + 1 + in->jt));
	if (in->jf)
		jump(t, BPF_JMP | BPF_JA, 0, 0, 0, (int)(i + 1 + in->jf));
	return 0;
}

static int one(struct tx *t, const struct tf_cbpf_insn *in, unsigned int i)
{
	__u16 c = in->code;
	__u32 k = in->k;

	switch (C_CLASS(c)) {
	case C_LD:
	case C_LDX: {
		__u8 dst = C_CLASS(c) == C_LD ? R_A : R_X;

		switch (C_MODE(c)) {
		case C_IMM:
			put(t, BPF_ALU | BPF_MOV | BPF_K, dst, 0, 0, (__s32)k);
			return 0;
		case C_LEN:
			put(t, BPF_LDX | BPF_MEM | BPF_W, dst, R_MEM, TF_CBPF_WIRELEN_OFF, 0);
			return 0;
		case C_MEM:
			if (k >= TF_CBPF_MEMWORDS)
				return -EINVAL;
			put(t, BPF_LDX | BPF_MEM | BPF_W, dst, R_MEM, k * 4, 0);
			return 0;
		case C_ABS:
			if (dst != R_A)
				return -EINVAL;
			load_pkt(t, c, k, false);
			break;
		case C_IND:
			if (dst != R_A)
				return -EINVAL;
			load_pkt(t, c, k, true);
			break;
		case C_MSH:	/* X = 4 * (P[k] & 0xf): the IPv4 header length */
			if (dst != R_X || C_SIZE(c) != C_B)
				return -EINVAL;
			load_pkt(t, c, k, false);
			put(t, BPF_ALU | BPF_AND | BPF_K, R_T, 0, 0, 0xf);
			put(t, BPF_ALU | BPF_LSH | BPF_K, R_T, 0, 0, 2);
			break;
		default:
			return -EINVAL;
		}
		put(t, BPF_ALU | BPF_MOV | BPF_X, dst, R_T, 0, 0);
		return 0;
	}
	case C_ST:
	case C_STX:
		if (k >= TF_CBPF_MEMWORDS)
			return -EINVAL;
		put(t, BPF_STX | BPF_MEM | BPF_W, R_MEM, C_CLASS(c) == C_ST ? R_A : R_X, k * 4, 0);
		return 0;
	case C_ALU:
		return alu(t, c, k);
	case C_JMP:
		return cond(t, in, i);
	case C_RET:
		if (C_RVAL(c) == C_K)
			put(t, BPF_ALU | BPF_MOV | BPF_K, R_T, 0, 0, (__s32)k);
		else
			put(t, BPF_ALU | BPF_MOV | BPF_X, R_T, C_RVAL(c) == C_A ? R_A : R_X, 0, 0);
		jump(t, BPF_JMP | BPF_JA, 0, 0, 0, T_END);
		return 0;
	case C_MISC:
		if (C_MISCOP(c) == C_TAX)
			put(t, BPF_ALU | BPF_MOV | BPF_X, R_X, R_A, 0, 0);
		else if (C_MISCOP(c) == C_TXA)
			put(t, BPF_ALU | BPF_MOV | BPF_X, R_A, R_X, 0, 0);
		else
			return -EINVAL;
		return 0;
	}
	return -EINVAL;
}

int tf_cbpf_translate(const struct tf_cbpf_insn *prog, unsigned int n, struct bpf_insn *region)
{
	static __thread struct tx t;
	static __thread unsigned int start[TF_CBPF_REGION + 1];
	unsigned int fail, base;
	int err;

	if (!n || n > TF_CBPF_REGION)
		return -E2BIG;
	memset(&t, 0, sizeof(t));
	put(&t, BPF_ALU | BPF_MOV | BPF_K, R_A, 0, 0, 0);
	put(&t, BPF_ALU | BPF_MOV | BPF_K, R_X, 0, 0, 0);
	for (unsigned int i = 0; i < n; i++) {
		start[i] = t.n;
		err = one(&t, &prog[i], i);
		if (err)
			return err;
	}
	start[n] = t.n;
	fail = t.n;
	for (unsigned int f = 0; f < t.nfix; f++) {
		if (t.fix[f].target != T_FAIL)
			continue;
		/* only when something jumps here: the verifier refuses dead code */
		put(&t, BPF_ALU | BPF_MOV | BPF_K, R_T, 0, 0, 0);
		jump(&t, BPF_JMP | BPF_JA, 0, 0, 0, T_END);
		break;
	}
	if (t.full || t.n + 2 > TF_CBPF_REGION)
		return -E2BIG;
	base = TF_CBPF_REGION - t.n;	/* where the body starts in the region */
	for (unsigned int f = 0; f < t.nfix; f++) {
		int target = t.fix[f].target;
		long to;

		if (target == T_END)
			to = (long)TF_CBPF_REGION - base;
		else if (target == T_FAIL)
			to = fail;
		else if (target >= 0 && (unsigned int)target <= n)
			to = start[target];
		else
			return -EINVAL;	/* a jump out of the program */
		t.body[t.fix[f].at].off = (__s16)(to - (long)t.fix[f].at - 1);
	}
	region[0] = (struct bpf_insn){ .code = BPF_ALU | BPF_MOV | BPF_K, .dst_reg = R_T };
	region[1] = (struct bpf_insn){ .code = BPF_JMP32 | BPF_JEQ | BPF_K, .dst_reg = R_T,
				       .off = (__s16)(base - 2) };
	for (unsigned int i = 2; i < base; i++)
		region[i] = region[0];
	memcpy(&region[base], t.body, t.n * sizeof(t.body[0]));
	return 0;
}

static bool is_mov0(const struct bpf_insn *i, int imm)
{
	return i->code == (BPF_ALU | BPF_MOV | BPF_K) && i->dst_reg == 0 && i->imm == imm;
}

int tf_cbpf_patch(struct bpf_object *obj, const struct bpf_insn *region)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, obj) {
		size_t cnt = bpf_program__insn_cnt(prog);
		const struct bpf_insn *in = bpf_program__insns(prog);
		struct bpf_insn *copy;
		bool found = false;
		int err;

		copy = malloc(cnt * sizeof(*copy));
		if (!copy)
			return tf_err(-ENOMEM, "out of memory");
		memcpy(copy, in, cnt * sizeof(*copy));
		for (size_t i = 0; i + TF_CBPF_REGION <= cnt; i++) {
			size_t j;

			if (!is_mov0(&copy[i], TF_CBPF_MARK))
				continue;
			for (j = 1; j < TF_CBPF_REGION && is_mov0(&copy[i + j], TF_CBPF_FILL); j++)
				;
			if (j != TF_CBPF_REGION)
				continue;
			memcpy(&copy[i], region, TF_CBPF_REGION * sizeof(*copy));
			i += TF_CBPF_REGION - 1;
			found = true;
		}
		err = found ? bpf_program__set_insns(prog, copy, cnt) : 0;
		free(copy);
		if (err)
			return tf_err(err, "cannot patch the filter into %s", bpf_program__name(prog));
	}
	return 0;
}
