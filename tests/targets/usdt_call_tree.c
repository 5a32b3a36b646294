/* A stand-in for an interpreter that fires CPython's function probes for every call (as builds
 * --with-dtrace of CPython <= 3.10 and 3.15 do), to test --mode trace end to end: provider
 * `python`, probes function__entry / function__return (filename, funcname, lineno) and
 * gc__start / gc__done, each behind its semaphore like CPython's.
 *
 * It runs a scripted call tree with known counts and sleeps (see main), prints each call edge as
 * "expect CALLER CALLEE calls=N inclusive_ms=T", then exits. Times are wall-clock sleeps, T as
 * the stand-in itself measured them (a loaded host oversleeps; the tracer must see the same).
 *
 * Usage: usdt_call_tree [ROUNDS]   (default 5)
 *        usdt_call_tree burst CALLS THREADS   (benchmark: THREADS threads each making CALLS calls of
 *                                               an empty function, as fast as the probes allow)
 */
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The semaphores the tracer's uprobes increment (what CPython's PyDTrace_*_ENABLED() read). */
unsigned short python_function__entry_semaphore __attribute__((section(".probes"), used));
unsigned short python_function__return_semaphore __attribute__((section(".probes"), used));
unsigned short python_gc__start_semaphore __attribute__((section(".probes"), used));
unsigned short python_gc__done_semaphore __attribute__((section(".probes"), used));

static const char FILE_NAME[] = "call_tree.py";

/* A "Python function": entry and return probes around its body, as ceval fires them. */
#define ENTER(name, line) \
    do { \
        if (python_function__entry_semaphore) STAP_PROBE3(python, function__entry, FILE_NAME, name, line); \
    } while (0)
#define LEAVE(name, line) \
    do { \
        if (python_function__return_semaphore) STAP_PROBE3(python, function__return, FILE_NAME, name, line); \
    } while (0)

/* Time spent in each call edge, as measured here (CLOCK_MONOTONIC, ns). */
static long long main_outer_ns, outer_inner_ns, outer_rec_ns, rec_rec_ns, main_gc_ns;

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0) {
    }
}

static void inner(void)
{
    ENTER("inner", 20);
    sleep_ms(10);
    LEAVE("inner", 22);
}

/* rec(n): 10 ms of its own, then rec(n - 1). `top`: called from outer (time inside nested
 * recursive calls counts once, at the outermost rec -> rec call). */
static void rec(int n, int top)
{
    ENTER("rec", 30);
    sleep_ms(10);
    if (n > 0) {
        long long start = now_ns();
        rec(n - 1, 0);
        if (top)
            rec_rec_ns += now_ns() - start;
    }
    LEAVE("rec", 33);
}

static void collect(void)
{
    long long start = now_ns();
    if (python_gc__start_semaphore) STAP_PROBE1(python, gc__start, 2);
    sleep_ms(100);
    if (python_gc__done_semaphore) STAP_PROBE1(python, gc__done, 0L);
    main_gc_ns += now_ns() - start;
}

/* outer: 20 ms of its own, inner() three times, rec(3) once. */
static void outer(void)
{
    ENTER("outer", 40);
    sleep_ms(20);
    for (int i = 0; i < 3; i++) {
        long long start = now_ns();
        inner();
        outer_inner_ns += now_ns() - start;
    }
    long long start = now_ns();
    rec(3, 1);
    outer_rec_ns += now_ns() - start;
    LEAVE("outer", 45);
}

static long burst_calls;

static void *burst(void *unused)
{
    (void)unused;
    for (long i = 0; i < burst_calls; i++) {
        ENTER("tick", 60);
        LEAVE("tick", 61);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 3 && strcmp(argv[1], "burst") == 0) {
        burst_calls = atol(argv[2]);
        int threads = atoi(argv[3]);
        pthread_t t[64];
        if (threads < 1 || threads > 64)
            return 2;
        for (int i = 0; i < threads; i++)
            pthread_create(&t[i], NULL, burst, NULL);
        for (int i = 0; i < threads; i++)
            pthread_join(t[i], NULL);
        printf("calls %ld\n", burst_calls * threads);
        return 0;
    }
    int rounds = argc > 1 ? atoi(argv[1]) : 5;
    ENTER("main", 50);
    for (int i = 0; i < rounds; i++) {
        long long start = now_ns();
        outer();
        main_outer_ns += now_ns() - start;
    }
    collect(); /* a 100 ms collection (long enough that one late wakeup stays well within 5%), inside main */
    LEAVE("main", 55);
    /* caller -> callee: calls, and the time spent in those calls (callgrind's inclusive cost; time
     * inside nested recursive calls counts once: rec(3) -> rec(2) -> ... spends 30 ms under rec -> rec). */
    printf("expect main outer calls=%d inclusive_ms=%.3f\n", rounds, main_outer_ns / 1e6);
    printf("expect outer inner calls=%d inclusive_ms=%.3f\n", 3 * rounds, outer_inner_ns / 1e6);
    printf("expect outer rec calls=%d inclusive_ms=%.3f\n", rounds, outer_rec_ns / 1e6);
    printf("expect rec rec calls=%d inclusive_ms=%.3f\n", 3 * rounds, rec_rec_ns / 1e6);
    printf("expect main [gc] calls=1 inclusive_ms=%.3f\n", main_gc_ns / 1e6);
    return 0;
}
