/* LD_PRELOAD library: every CPUID in this process (and, through the environment, its children)
 * answers as an AVX2-only x86-64 CPU: no AVX-512, no VNNI, no AMX.
 *
 * Why: onnxruntime picks its int8 GEMM from CPUID, and the AVX2 kernel (vpmaddubsw) saturates
 * where VNNI and AMX are exact. With this library a VNNI host runs the very code an AVX2 desktop
 * runs, natively, on its real integer units (qemu-x86_64 -cpu Haswell does the same ~100x slower).
 *
 * How: Linux's CPUID faulting (arch_prctl ARCH_SET_CPUID 0; /proc/cpuinfo flag cpuid_fault)
 * turns each CPUID into SIGSEGV. The constructor records the real answers first, then the handler
 * answers from that table with the masked bits cleared. Other SIGSEGVs go to whatever handler
 * the program installs (sigaction and signal are interposed), so Python's faulthandler and the
 * JVM keep theirs. Faulting is reset by execve, where the constructor runs again. */
#define _GNU_SOURCE
#include <cpuid.h>
#include <dlfcn.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#define ARCH_SET_CPUID 0x1012
#define MAX_ENTRIES 4096  /* ~20 leaves with subleaves x 64, and the rest */
#define MAX_SUBLEAF 64

struct answer { uint32_t leaf, sub, r[4]; };  /* r: eax ebx ecx edx */
static struct answer table[MAX_ENTRIES];
static int entries;

/* looked up by mobilecomp.cpu_view.active(): this process's CPUID is masked */
__attribute__((visibility("default"))) const char mobilecomp_cpu_view[] = "avx2";

/* {leaf, subleaf, register, bits cleared}: what an AVX2-only CPU lacks */
static const struct { uint32_t leaf, sub; int reg; uint32_t bits; } MASKS[] = {
    /* leaf 7.0 ebx: avx512 f dq ifma pf er cd bw vl */
    {7, 0, 1, (1u << 16) | (1u << 17) | (1u << 21) | (1u << 26) | (1u << 27) | (1u << 28) | (1u << 30) | (1u << 31)},
    /* leaf 7.0 ecx: avx512 vbmi vbmi2 vnni bitalg vpopcntdq */
    {7, 0, 2, (1u << 1) | (1u << 6) | (1u << 11) | (1u << 12) | (1u << 14)},
    /* leaf 7.0 edx: avx512 4vnniw 4fmaps vp2intersect, amx bf16, avx512 fp16, amx tile int8 */
    {7, 0, 3, (1u << 2) | (1u << 3) | (1u << 8) | (1u << 22) | (1u << 23) | (1u << 24) | (1u << 25)},
    /* leaf 7.1 eax: avx-vnni, avx512 bf16, amx fp16, avx-ifma */
    {7, 1, 0, (1u << 4) | (1u << 5) | (1u << 21) | (1u << 23)},
    /* leaf 7.1 edx: avx-vnni-int8, avx-ne-convert, amx complex, avx-vnni-int16, avx10 */
    {7, 1, 3, (1u << 4) | (1u << 5) | (1u << 8) | (1u << 10) | (1u << 19)},
    /* leaf 0xd.0 eax: xsave state opmask, zmm_hi256, hi16_zmm, xtilecfg, xtiledata */
    {0xd, 0, 0, (1u << 5) | (1u << 6) | (1u << 7) | (1u << 17) | (1u << 18)},
};

static int has_subleaves(uint32_t leaf) {
    switch (leaf) {
    case 4: case 7: case 0xb: case 0xd: case 0xf: case 0x10: case 0x12: case 0x14: case 0x17:
    case 0x18: case 0x1b: case 0x1d: case 0x1e: case 0x1f: case 0x20: case 0x23: case 0x24:
    case 0x8000001d: case 0x80000020: case 0x80000026:
        return 1;
    }
    return 0;
}

static void record(uint32_t leaf, uint32_t sub) {
    if (entries == MAX_ENTRIES) {  /* a silently wrong CPUID answer is worse than none */
        fputs("cpu_view: more CPUID leaves than MAX_ENTRIES in cpu_view.c; raise it\n", stderr);
        _exit(3);
    }
    struct answer *a = &table[entries++];
    a->leaf = leaf;
    a->sub = sub;
    __cpuid_count(leaf, sub, a->r[0], a->r[1], a->r[2], a->r[3]);
    for (size_t i = 0; i < sizeof MASKS / sizeof MASKS[0]; i++)
        if (MASKS[i].leaf == leaf && MASKS[i].sub == sub) a->r[MASKS[i].reg] &= ~MASKS[i].bits;
    if (leaf == 0x24) memset(a->r, 0, sizeof a->r);  /* AVX10 details: absent */
}

static void record_range(uint32_t first, uint32_t last) {
    for (uint32_t leaf = first; leaf <= last; leaf++)
        for (uint32_t sub = 0; sub < (has_subleaves(leaf) ? MAX_SUBLEAF : 1); sub++) record(leaf, sub);
}

static const struct answer *lookup(uint32_t leaf, uint32_t sub) {
    if (!has_subleaves(leaf)) sub = 0;  /* these leaves ignore ecx */
    for (int i = 0; i < entries; i++)
        if (table[i].leaf == leaf && table[i].sub == sub) return &table[i];
    return NULL;
}

/* the program's own SIGSEGV disposition, kept here while ours stays installed */
static struct sigaction program_action;
static int (*real_sigaction)(int, const struct sigaction *, struct sigaction *);

static void on_segv(int sig, siginfo_t *info, void *context) {
    ucontext_t *uc = context;
    greg_t *regs = uc->uc_mcontext.gregs;
    const unsigned char *ip = (const unsigned char *)regs[REG_RIP];
    if (info->si_code == SI_KERNEL && ip[0] == 0x0f && ip[1] == 0xa2) {
        const struct answer *a = lookup((uint32_t)regs[REG_RAX], (uint32_t)regs[REG_RCX]);
        static const uint32_t none[4];
        const uint32_t *r = a ? a->r : none;
        regs[REG_RAX] = r[0];
        regs[REG_RBX] = r[1];
        regs[REG_RCX] = r[2];
        regs[REG_RDX] = r[3];
        regs[REG_RIP] += 2;
        return;
    }
    if (program_action.sa_flags & SA_SIGINFO) {
        program_action.sa_sigaction(sig, info, context);
    } else if (program_action.sa_handler != SIG_DFL && program_action.sa_handler != SIG_IGN) {
        program_action.sa_handler(sig);
    } else {  /* default action: die as the program would have */
        struct sigaction dfl = {.sa_handler = SIG_DFL};
        real_sigaction(SIGSEGV, &dfl, NULL);
        if (info->si_code <= 0) raise(SIGSEGV);  /* sent, not a fault: returning would not repeat it */
    }
}

int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
    if (sig != SIGSEGV || real_sigaction == NULL) {
        if (real_sigaction == NULL) real_sigaction = dlsym(RTLD_NEXT, "sigaction");
        return real_sigaction(sig, act, old);
    }
    if (old) *old = program_action;
    if (act) program_action = *act;
    return 0;
}

sighandler_t signal(int sig, sighandler_t handler) {
    struct sigaction act = {.sa_handler = handler, .sa_flags = SA_RESTART}, old;
    sigemptyset(&act.sa_mask);
    if (sigaction(sig, &act, &old) != 0) return SIG_ERR;
    return old.sa_handler;
}

__attribute__((constructor)) static void mask_cpuid(void) {
    uint32_t eax, ebx, ecx, edx;
    real_sigaction = dlsym(RTLD_NEXT, "sigaction");
    __cpuid(0, eax, ebx, ecx, edx);
    record_range(0, eax);
    __cpuid(0x40000000, eax, ebx, ecx, edx);
    if (eax >= 0x40000000 && eax < 0x40000100) record_range(0x40000000, eax);
    __cpuid(0x80000000, eax, ebx, ecx, edx);
    if (eax >= 0x80000000 && eax < 0x80000100) record_range(0x80000000, eax);

    struct sigaction act = {.sa_sigaction = on_segv, .sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER};
    sigemptyset(&act.sa_mask);
    real_sigaction(SIGSEGV, &act, &program_action);
    if (syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0) != 0) {
        fputs("cpu_view: this kernel or CPU has no CPUID faulting (/proc/cpuinfo flag cpuid_fault); "
              "run without LD_PRELOAD\n", stderr);
        _exit(3);
    }
    /* a qemu-user child must not hand this x86-64 library to its guest's loader */
    setenv("QEMU_UNSET_ENV", "LD_PRELOAD", 0);
}
