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

/* MOV the pattern (32 bytes a register) into REG0..REG13 */
#define LD(mov, reg, r, off) mov " " #off "(%0), %%" reg #r "\n\t"
#define LOADS(mov, reg) \
	LD(mov, reg, 0, 0) LD(mov, reg, 1, 32) LD(mov, reg, 2, 64) LD(mov, reg, 3, 96) \
	LD(mov, reg, 4, 128) LD(mov, reg, 5, 160) LD(mov, reg, 6, 192) LD(mov, reg, 7, 224) \
	LD(mov, reg, 8, 256) LD(mov, reg, 9, 288) LD(mov, reg, 10, 320) LD(mov, reg, 11, 352) \
	LD(mov, reg, 12, 384) LD(mov, reg, 13, 416)
/* each register's offset in the pattern, for CMP and OUT */
#define EACH(M) M(0, 0) M(1, 32) M(2, 64) M(3, 96) M(4, 128) M(5, 160) M(6, 192) \
	M(7, 224) M(8, 256) M(9, 288) M(10, 320) M(11, 352) M(12, 384) M(13, 416)
#define CLOBBERS "rcx", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", \
	"xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"

/* One round of ITER compares; returns the OR of every difference seen, per
 * register, in diff (NREG x 32 bytes). */
__attribute__((target("avx2"))) static void round_avx(const uint8_t *pat, uint8_t *diff, long iter)
{
	__asm__ volatile(
		LOADS("vmovdqu", "ymm")
		"vpxor %%ymm15, %%ymm15, %%ymm15\n\t"
		"mov %2, %%rcx\n"
		"1:\n\t"
#define CMP(r, off) "vpxor " #off "(%0), %%ymm" #r ", %%ymm14\n\tvpor %%ymm14, %%ymm15, %%ymm15\n\t"
		EACH(CMP)
#undef CMP
		"dec %%rcx\n\tjnz 1b\n\t"
#define OUT(r, off) "vpxor " #off "(%0), %%ymm" #r ", %%ymm14\n\tvmovdqu %%ymm14, " #off "(%1)\n\t"
		EACH(OUT)
#undef OUT
		"vmovdqu %%ymm15, 448(%1)\n\t"
		"vzeroupper\n\t"
		:
		: "r"(pat), "r"(diff), "r"(iter)
		: CLOBBERS);
}

static void round_sse(const uint8_t *pat, uint8_t *diff, long iter)
{
	__asm__ volatile(
		LOADS("movdqu", "xmm")
		"pxor %%xmm15, %%xmm15\n\t"
		"mov %2, %%rcx\n"
		"1:\n\t"
#define CMP(r, off) "movdqu " #off "(%0), %%xmm14\n\tpxor %%xmm" #r ", %%xmm14\n\tpor %%xmm14, %%xmm15\n\t"
		EACH(CMP)
#undef CMP
		"dec %%rcx\n\tjnz 1b\n\t"
#define OUT(r, off) "movdqu " #off "(%0), %%xmm14\n\tpxor %%xmm" #r ", %%xmm14\n\tmovdqu %%xmm14, " #off "(%1)\n\t"
		EACH(OUT)
#undef OUT
		"movdqu %%xmm15, 448(%1)\n\t"
		:
		: "r"(pat), "r"(diff), "r"(iter)
		: CLOBBERS);
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
