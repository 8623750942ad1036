/* tests/xen/simd-check.c - do this thread's vector registers keep their values?
 *
 * A diagnostic of the Xen lab (XEN_B_BULK=1, docs/testing.md): it loads a
 * known pattern into ymm0-ymm13 (xmm0-xmm13 where the CPU has no AVX, or
 * with --sse) and, for SECONDS, compares them again and again with the
 * pattern, inside one asm block per round so that nothing of its own
 * touches them in between.  Registers only change under it if whatever
 * switches this CPU to other work (the kernel, or Xen for a PV dom0) does
 * not give them back intact.  Prints one line
 *   simd-check: avx|sse: N rounds in S s: kept
 * or "... CHANGED in K rounds (first: register R)" and exits 0 kept, 1
 * changed, 2 usage.  Built by tests/xen/run.sh with the host's cc; not
 * part of xenha.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NREG 14

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One round of ITER compares; returns the OR of every difference seen, per
 * register, in diff (NREG x 32 bytes). */
__attribute__((target("avx2"))) static void round_avx(const uint8_t *pat, uint8_t *diff, long iter)
{
	__asm__ volatile(
		"vmovdqu 0(%0), %%ymm0\n\tvmovdqu 32(%0), %%ymm1\n\t"
		"vmovdqu 64(%0), %%ymm2\n\tvmovdqu 96(%0), %%ymm3\n\t"
		"vmovdqu 128(%0), %%ymm4\n\tvmovdqu 160(%0), %%ymm5\n\t"
		"vmovdqu 192(%0), %%ymm6\n\tvmovdqu 224(%0), %%ymm7\n\t"
		"vmovdqu 256(%0), %%ymm8\n\tvmovdqu 288(%0), %%ymm9\n\t"
		"vmovdqu 320(%0), %%ymm10\n\tvmovdqu 352(%0), %%ymm11\n\t"
		"vmovdqu 384(%0), %%ymm12\n\tvmovdqu 416(%0), %%ymm13\n\t"
		"vpxor %%ymm15, %%ymm15, %%ymm15\n\t"
		"mov %2, %%rcx\n"
		"1:\n\t"
#define CMP(r, off) "vpxor " #off "(%0), %%ymm" #r ", %%ymm14\n\tvpor %%ymm14, %%ymm15, %%ymm15\n\t"
		CMP(0, 0) CMP(1, 32) CMP(2, 64) CMP(3, 96) CMP(4, 128) CMP(5, 160) CMP(6, 192)
		CMP(7, 224) CMP(8, 256) CMP(9, 288) CMP(10, 320) CMP(11, 352) CMP(12, 384) CMP(13, 416)
#undef CMP
		"dec %%rcx\n\tjnz 1b\n\t"
#define OUT(r, off) "vpxor " #off "(%0), %%ymm" #r ", %%ymm14\n\tvmovdqu %%ymm14, " #off "(%1)\n\t"
		OUT(0, 0) OUT(1, 32) OUT(2, 64) OUT(3, 96) OUT(4, 128) OUT(5, 160) OUT(6, 192)
		OUT(7, 224) OUT(8, 256) OUT(9, 288) OUT(10, 320) OUT(11, 352) OUT(12, 384) OUT(13, 416)
#undef OUT
		"vmovdqu %%ymm15, 448(%1)\n\t"
		"vzeroupper\n\t"
		:
		: "r"(pat), "r"(diff), "r"(iter)
		: "rcx", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
		  "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

static void round_sse(const uint8_t *pat, uint8_t *diff, long iter)
{
	__asm__ volatile(
		"movdqu 0(%0), %%xmm0\n\tmovdqu 32(%0), %%xmm1\n\t"
		"movdqu 64(%0), %%xmm2\n\tmovdqu 96(%0), %%xmm3\n\t"
		"movdqu 128(%0), %%xmm4\n\tmovdqu 160(%0), %%xmm5\n\t"
		"movdqu 192(%0), %%xmm6\n\tmovdqu 224(%0), %%xmm7\n\t"
		"movdqu 256(%0), %%xmm8\n\tmovdqu 288(%0), %%xmm9\n\t"
		"movdqu 320(%0), %%xmm10\n\tmovdqu 352(%0), %%xmm11\n\t"
		"movdqu 384(%0), %%xmm12\n\tmovdqu 416(%0), %%xmm13\n\t"
		"pxor %%xmm15, %%xmm15\n\t"
		"mov %2, %%rcx\n"
		"1:\n\t"
#define CMP(r, off) "movdqu " #off "(%0), %%xmm14\n\tpxor %%xmm" #r ", %%xmm14\n\tpor %%xmm14, %%xmm15\n\t"
		CMP(0, 0) CMP(1, 32) CMP(2, 64) CMP(3, 96) CMP(4, 128) CMP(5, 160) CMP(6, 192)
		CMP(7, 224) CMP(8, 256) CMP(9, 288) CMP(10, 320) CMP(11, 352) CMP(12, 384) CMP(13, 416)
#undef CMP
		"dec %%rcx\n\tjnz 1b\n\t"
#define OUT(r, off) "movdqu " #off "(%0), %%xmm14\n\tpxor %%xmm" #r ", %%xmm14\n\tmovdqu %%xmm14, " #off "(%1)\n\t"
		OUT(0, 0) OUT(1, 32) OUT(2, 64) OUT(3, 96) OUT(4, 128) OUT(5, 160) OUT(6, 192)
		OUT(7, 224) OUT(8, 256) OUT(9, 288) OUT(10, 320) OUT(11, 352) OUT(12, 384) OUT(13, 416)
#undef OUT
		"movdqu %%xmm15, 448(%1)\n\t"
		:
		: "r"(pat), "r"(diff), "r"(iter)
		: "rcx", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
		  "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

static int nonzero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	uint8_t pat[(NREG + 1) * 32], diff[(NREG + 1) * 32];
	int avx = __builtin_cpu_supports("avx2"), width;
	long rounds = 0, bad = 0, first = -1;
	double secs, t0, t;
	char *end;

	if (argc > 2 && strcmp(argv[2], "--sse") == 0)
		avx = 0;
	if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "--sse") != 0)) {
		fprintf(stderr, "usage: simd-check SECONDS [--sse]\n");
		return 2;
	}
	secs = strtod(argv[1], &end);
	if (*end || !(secs > 0 && secs <= 3600)) {
		fprintf(stderr, "simd-check: SECONDS must be in (0, 3600]\n");
		return 2;
	}
	width = avx ? 32 : 16;
	for (size_t i = 0; i < sizeof(pat); i++)
		pat[i] = (uint8_t)(0xa5 ^ (i * 37) ^ (i >> 3));
	t0 = now_s();
	do {
		memset(diff, 0, sizeof(diff));
		if (avx)
			round_avx(pat, diff, 200000);
		else
			round_sse(pat, diff, 200000);
		rounds++;
		if (nonzero(diff + NREG * 32, (size_t)width)) {
			bad++;
			if (first < 0)
				for (int r = 0; r < NREG && first < 0; r++)
					if (nonzero(diff + r * 32, (size_t)width))
						first = r;
		}
		t = now_s();
	} while (t - t0 < secs);
	printf("simd-check: %s: %ld rounds in %.1f s: ", avx ? "avx" : "sse", rounds, t - t0);
	if (!bad) {
		printf("kept\n");
		return 0;
	}
	printf("CHANGED in %ld rounds (first: register %s%ld)\n", bad, avx ? "ymm" : "xmm", first);
	return 1;
}
