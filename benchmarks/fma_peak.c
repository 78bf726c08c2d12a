/* The fp32 arithmetic peak of this CPU: every thread runs independent chains of vector fused
 * multiply-adds and nothing else (no loads, no stores), so the rate it reaches is what the
 * FMA units can do at the clock they run at now. Written by hand because no library exposes
 * it: a GEMM measures a kernel (memory, packing, blocking), not the units.
 *
 * 12 chains per thread: an FMA has a latency of 4-5 cycles and 2 units issue one each per
 * cycle, so at least 8-10 chains are needed to keep both busy.
 * Built by benchmarks/arithmetic_bound.py:  cc -O2 -mavx2 -mfma [-mavx512f -DWIDE512] ... */
#include <immintrin.h>
#include <pthread.h>

#ifdef WIDE512
typedef __m512 vec;
#define LANES 16
#define SET1 _mm512_set1_ps
#define FMA _mm512_fmadd_ps
#define ADD _mm512_add_ps
#define STORE _mm512_storeu_ps
#else
typedef __m256 vec;
#define LANES 8
#define SET1 _mm256_set1_ps
#define FMA _mm256_fmadd_ps
#define ADD _mm256_add_ps
#define STORE _mm256_storeu_ps
#endif
#define CHAINS 12

typedef struct { long rounds; float checksum; } job;

static void *run(void *arg) {
    job *j = (job *)arg;
    vec acc[CHAINS];
    /* a factor just under 1 and a small addend keep the values finite for any length */
    const vec m = SET1(0.999999f), c = SET1(1e-7f);
    for (int i = 0; i < CHAINS; i++) acc[i] = SET1((float)i);
    for (long r = 0; r < j->rounds; r++) {
#pragma GCC unroll 12
        for (int i = 0; i < CHAINS; i++) acc[i] = FMA(acc[i], m, c);
    }
    vec s = acc[0];
    for (int i = 1; i < CHAINS; i++) s = ADD(s, acc[i]);
    float out[LANES];
    STORE(out, s);
    j->checksum = out[0]; /* read back, so the compiler cannot drop the loop */
    return 0;
}

/* Runs `rounds` rounds on each of `threads` threads; returns the FLOPs done (2 per lane per
 * FMA) and writes the sum of the threads' checksums to *checksum. */
double fma_flops(long rounds, int threads, float *checksum) {
    enum { MAX_THREADS = 256 };
    pthread_t ids[MAX_THREADS];
    job jobs[MAX_THREADS];
    if (threads < 1) threads = 1;
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    for (int t = 0; t < threads; t++) jobs[t].rounds = rounds;
    for (int t = 1; t < threads; t++) pthread_create(&ids[t], 0, run, &jobs[t]);
    run(&jobs[0]);
    for (int t = 1; t < threads; t++) pthread_join(ids[t], 0);
    float sum = 0;
    for (int t = 0; t < threads; t++) sum += jobs[t].checksum;
    *checksum = sum;
    return 2.0 * LANES * CHAINS * (double)rounds * threads;
}

/* FLOPs of one round on one thread: what fma_flops counts per round and thread. */
double fma_flops_per_round(void) { return 2.0 * LANES * CHAINS; }
