/*
 * mobilecomp's qemu TCG plugin: counts executed AArch64 guest instructions by class between
 * markers the guest emits around each inference.
 *
 * Classes are decided once per instruction at translation time from its encoding; each
 * translated block then adds its per-class totals with inline counters (no helper calls).
 * Marker: the guest calls lseek(-1, MARKER | code, SEEK_SET) (fails with EBADF, harmless);
 * code 1 opens a region, code 2 closes it and appends one line to the file given as out=PATH:
 *   region N <count per class, in CLASS_NAMES order>
 * Counters are plain (not atomic): count single-threaded guests.
 * Build: gcc -O2 -shared -fPIC $(pkg-config --cflags glib-2.0) -I DIR_WITH_qemu-plugin.h plugin.c
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

enum { FMLA, FMADD, INT_MAC, MUL, DOT, MMLA, LOAD, STORE, SIMD_OTHER, BRANCH, OTHER, NCLASS };
static const char *CLASS_NAMES[NCLASS] = {
    "fmla", "fmadd", "int_mac", "mul", "dot", "mmla",
    "load", "store", "simd_other", "branch", "other"};

#define SYS_LSEEK 62
#define MARKER 0x6d6300000000ULL

static uint64_t counters[NCLASS];
static uint64_t opened[NCLASS];
static int region;
static FILE *out;

struct pattern { uint32_t mask, value; int cls; };

static const struct pattern PATTERNS[] = {
    /* dot product: SDOT/UDOT (vector, element), USDOT (vector), SUDOT/USDOT (element) */
    {0x9FE0FC00, 0x0E809400, DOT},
    {0x9FC0F400, 0x0F80E000, DOT},
    {0xBFE0FC00, 0x0E809C00, DOT},
    {0xBF40F400, 0x0F00F000, DOT},
    /* int8 matrix multiply-accumulate: SMMLA/UMMLA/USMMLA (i8mm) */
    {0xDFE0F400, 0x4E80A400, MMLA},
    /* FP multiply-accumulate: FMLA/FMLS vector (single/double, half), by element, scalar by element */
    {0xBF20FC00, 0x0E20CC00, FMLA},
    {0xBF60FC00, 0x0E400C00, FMLA},
    {0xBF00B400, 0x0F001000, FMLA},
    {0xFF00B400, 0x5F001000, FMLA},
    /* scalar FMADD/FMSUB/FNMADD/FNMSUB */
    {0xFF000000, 0x1F000000, FMADD},
    /* integer multiply-accumulate: MLA/MLS, SMLAL/UMLAL/SMLSL/UMLSL (vector, element),
       MLA/MLS by element, SADALP/UADALP (the accumulate half of int8 kernels without dot product) */
    {0x9F20FC00, 0x0E209400, INT_MAC},
    {0x9F20DC00, 0x0E208000, INT_MAC},
    {0x9F00B400, 0x0F002000, INT_MAC},
    {0xBF00B400, 0x2F000000, INT_MAC},
    {0x9F3FFC00, 0x0E206800, INT_MAC},
    /* multiplies: SMULL/UMULL (vector, element), MUL, FMUL (vector, element) */
    {0x9F20FC00, 0x0E20C000, MUL},
    {0x9F00F400, 0x0F00A000, MUL},
    {0xBF20FC00, 0x0E209C00, MUL},
    {0xBFA0FC00, 0x2E20DC00, MUL},
    {0xBF00F400, 0x0F009000, MUL},
};

static int classify(uint32_t insn)
{
    if ((insn & 0x0E000000) == 0x0E000000) { /* FP and Advanced SIMD data processing */
        for (size_t i = 0; i < sizeof(PATTERNS) / sizeof(PATTERNS[0]); i++) {
            if ((insn & PATTERNS[i].mask) == PATTERNS[i].value) {
                return PATTERNS[i].cls;
            }
        }
        return SIMD_OTHER;
    }
    if ((insn & 0x0A000000) == 0x08000000) { /* loads and stores (GPR and SIMD) */
        if ((insn & 0x3B000000) == 0x18000000) { /* load literal */
            return LOAD;
        }
        return (insn & (1u << 22)) ? LOAD : STORE;
    }
    if ((insn & 0x1C000000) == 0x14000000) {
        return BRANCH;
    }
    return OTHER;
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    uint64_t n[NCLASS] = {0};
    size_t count = qemu_plugin_tb_n_insns(tb);
    for (size_t i = 0; i < count; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint32_t word = 0;
        if (qemu_plugin_insn_size(insn) == 4) {
            memcpy(&word, qemu_plugin_insn_data(insn), 4);
        }
        n[classify(word)]++;
    }
    for (int c = 0; c < NCLASS; c++) {
        if (n[c]) {
            qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &counters[c], n[c]);
        }
    }
}

static void syscall_cb(qemu_plugin_id_t id, unsigned int vcpu, int64_t num, uint64_t a1,
                       uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6,
                       uint64_t a7, uint64_t a8)
{
    if (num != SYS_LSEEK || (uint32_t)a1 != 0xFFFFFFFFu || (a2 & ~0xFFFFULL) != MARKER) {
        return;
    }
    if ((a2 & 0xFFFF) == 1) {
        memcpy(opened, counters, sizeof(opened));
    } else if ((a2 & 0xFFFF) == 2 && out) {
        fprintf(out, "region %d", region++);
        for (int c = 0; c < NCLASS; c++) {
            fprintf(out, " %" PRIu64, counters[c] - opened[c]);
        }
        fprintf(out, "\n");
        fflush(out);
    }
}

static void at_exit(qemu_plugin_id_t id, void *p)
{
    if (out) {
        fprintf(out, "total");
        for (int c = 0; c < NCLASS; c++) {
            fprintf(out, " %" PRIu64, counters[c]);
        }
        fprintf(out, "\n");
        fclose(out);
        out = NULL;
    }
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                           int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "arg=", 4) == 0) {
            arg += 4;
        }
        if (strncmp(arg, "out=", 4) == 0) {
            out = fopen(arg + 4, "w");
            if (!out) {
                fprintf(stderr, "mobilecomp plugin: cannot write %s\n", arg + 4);
                return -1;
            }
        }
    }
    if (!out) {
        fprintf(stderr, "mobilecomp plugin: needs out=PATH\n");
        return -1;
    }
    fprintf(out, "classes");
    for (int c = 0; c < NCLASS; c++) {
        fprintf(out, " %s", CLASS_NAMES[c]);
    }
    fprintf(out, "\n");
    fflush(out);
    qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
    qemu_plugin_register_vcpu_syscall_cb(id, syscall_cb);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}
