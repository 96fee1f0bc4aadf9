/* mobilecomp ort-runner: times an ONNX model with the onnxruntime C API and prints the lines
 * onnxruntime_perf_test prints (so one parser reads both), plus every per-run latency.
 *
 *   ort-runner [-r runs] [-w warmup] [-x intra_op_threads] [-i inputs.bin] model.onnx
 *   ort-runner -o outputs.bin [-x intra_op_threads] -i inputs.bin model.onnx
 *
 * inputs.bin ("MCIN"): uint32 count, then per input: uint32 name_len, name, uint32 onnx
 * element type (1 float, 6 int32, 7 int64), uint32 ndims, int64 dims[ndims], raw data.
 * -o: output-dump mode: one run on the inputs, every float output written to outputs.bin in the
 * same layout under the magic "MCOU" (the device parity check reads it); nothing is timed.
 * Exit codes: 0 ok, 2 usage or input file, 3 onnxruntime error, 4 cannot write outputs.
 */
#include <onnxruntime_c_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const OrtApi *ort;

#define CHECK(expr)                                                          \
  do {                                                                       \
    OrtStatus *st_ = (expr);                                                 \
    if (st_) {                                                               \
      fprintf(stderr, "onnxruntime error: %s\n", ort->GetErrorMessage(st_)); \
      ort->ReleaseStatus(st_);                                               \
      return 3;                                                              \
    }                                                                        \
  } while (0)

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static long peak_rss_bytes(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kb = -1;
  if (!f) return -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmHWM: %ld kB", &kb) == 1) break;
  fclose(f);
  return kb < 0 ? -1 : kb * 1024;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double pct(const double *sorted, int n, double q) {
  double rank = (n - 1) * q / 100.0;
  int lo = (int)rank, hi = lo + 1 < n ? lo + 1 : n - 1;
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

typedef struct {
  char name[256];
  uint32_t type, ndims;
  int64_t dims[8];
  void *data;
  size_t bytes;
} Input;

static size_t elem_size(uint32_t type) { return type == 7 ? 8 : (type == 1 || type == 6) ? 4 : 0; }

static int read_inputs(const char *path, Input *in, uint32_t *count) {
  FILE *f = fopen(path, "rb");
  char magic[4];
  if (!f) { fprintf(stderr, "cannot open inputs %s\n", path); return 2; }
  if (fread(magic, 1, 4, f) != 4 || memcmp(magic, "MCIN", 4) || fread(count, 4, 1, f) != 1 || *count > 16) {
    fprintf(stderr, "%s: not an MCIN inputs file\n", path);
    fclose(f);
    return 2;
  }
  for (uint32_t i = 0; i < *count; i++) {
    uint32_t len;
    size_t n = 1;
    if (fread(&len, 4, 1, f) != 1 || len >= sizeof in[i].name || fread(in[i].name, 1, len, f) != len) goto bad;
    in[i].name[len] = 0;
    if (fread(&in[i].type, 4, 1, f) != 1 || fread(&in[i].ndims, 4, 1, f) != 1 || in[i].ndims > 8) goto bad;
    if (fread(in[i].dims, 8, in[i].ndims, f) != in[i].ndims || !elem_size(in[i].type)) goto bad;
    for (uint32_t d = 0; d < in[i].ndims; d++) n *= (size_t)in[i].dims[d];
    in[i].bytes = n * elem_size(in[i].type);
    in[i].data = malloc(in[i].bytes ? in[i].bytes : 1);
    if (fread(in[i].data, 1, in[i].bytes, f) != in[i].bytes) goto bad;
  }
  fclose(f);
  return 0;
bad:
  fprintf(stderr, "%s: truncated or malformed inputs file\n", path);
  fclose(f);
  return 2;
}

/* Shape of one output; *is_float 0 for any other element type. */
static int output_shape(OrtValue *value, int *is_float, size_t *ndims, int64_t dims[8], size_t *n) {
  OrtTensorTypeAndShapeInfo *info;
  ONNXTensorElementDataType t;
  CHECK(ort->GetTensorTypeAndShape(value, &info));
  CHECK(ort->GetTensorElementType(info, &t));
  CHECK(ort->GetDimensionsCount(info, ndims));
  CHECK(ort->GetTensorShapeElementCount(info, n));
  if (*ndims > 8) *ndims = 8;
  CHECK(ort->GetDimensions(info, dims, *ndims));
  ort->ReleaseTensorTypeAndShapeInfo(info);
  *is_float = t == ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
  return 0;
}

/* Every float output of one run, as MCOU (the MCIN layout): what the device parity check reads. */
static int dump_outputs(const char *path, const char **names, OrtValue **outs, size_t n_out) {
  uint32_t count = 0;
  int is_float, rc;
  size_t ndims, n;
  int64_t dims[8];
  for (size_t i = 0; i < n_out; i++) {
    if ((rc = output_shape(outs[i], &is_float, &ndims, dims, &n))) return rc;
    count += is_float;
  }
  FILE *f = fopen(path, "wb");
  if (!f) { fprintf(stderr, "cannot write outputs %s\n", path); return 4; }
  fwrite("MCOU", 1, 4, f);
  fwrite(&count, 4, 1, f);
  for (size_t i = 0; i < n_out; i++) {
    float *data;
    if ((rc = output_shape(outs[i], &is_float, &ndims, dims, &n))) { fclose(f); return rc; }
    if (!is_float) continue;
    CHECK(ort->GetTensorMutableData(outs[i], (void **)&data));
    uint32_t len = (uint32_t)strlen(names[i]), type = 1, nd = (uint32_t)ndims;
    fwrite(&len, 4, 1, f);
    fwrite(names[i], 1, len, f);
    fwrite(&type, 4, 1, f);
    fwrite(&nd, 4, 1, f);
    fwrite(dims, 8, ndims, f);
    fwrite(data, sizeof(float), n, f);
  }
  if (ferror(f) | fclose(f)) { fprintf(stderr, "cannot write outputs %s\n", path); return 4; }
  printf("mobilecomp outputs: %u written to %s\n", count, path);
  return 0;
}

int main(int argc, char **argv) {
  int runs = 30, warmup = 5, threads = 1, opt;
  const char *inputs_path = NULL, *dump_path = NULL;
  while ((opt = getopt(argc, argv, "r:w:x:i:o:")) != -1) {
    switch (opt) {
      case 'r': runs = atoi(optarg); break;
      case 'w': warmup = atoi(optarg); break;
      case 'x': threads = atoi(optarg); break;
      case 'i': inputs_path = optarg; break;
      case 'o': dump_path = optarg; break;
      default: fprintf(stderr, "usage: %s [-r runs] [-w warmup] [-x threads] [-i inputs.bin] [-o outputs.bin] model.onnx\n", argv[0]); return 2;
    }
  }
  if (optind >= argc || runs < 1) { fprintf(stderr, "usage: %s [-r runs] [-w warmup] [-x threads] [-i inputs.bin] model.onnx\n", argv[0]); return 2; }
  const char *model = argv[optind];

  const OrtApiBase *base = OrtGetApiBase();
  ort = base->GetApi(ORT_API_VERSION);
  if (!ort) { fprintf(stderr, "onnxruntime %s does not offer C API version %d\n", base->GetVersionString(), ORT_API_VERSION); return 3; }
  printf("onnxruntime version: %s\n", base->GetVersionString());

  Input in[16];
  uint32_t n_in = 0;
  if (inputs_path) {
    int rc = read_inputs(inputs_path, in, &n_in);
    if (rc) return rc;
  }

  OrtEnv *env;
  OrtSessionOptions *so;
  OrtSession *session;
  CHECK(ort->CreateEnv(ORT_LOGGING_LEVEL_WARNING, "mobilecomp", &env));
  CHECK(ort->CreateSessionOptions(&so));
  CHECK(ort->SetIntraOpNumThreads(so, threads));
  CHECK(ort->SetInterOpNumThreads(so, 1));
  CHECK(ort->SetSessionGraphOptimizationLevel(so, ORT_ENABLE_ALL));
  double t0 = now_s();
  CHECK(ort->CreateSession(env, model, so, &session));
  double created = now_s() - t0;

  OrtAllocator *alloc;
  OrtMemoryInfo *mem;
  CHECK(ort->GetAllocatorWithDefaultOptions(&alloc));
  CHECK(ort->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &mem));
  size_t n_model_in, n_out;
  CHECK(ort->SessionGetInputCount(session, &n_model_in));
  CHECK(ort->SessionGetOutputCount(session, &n_out));
  const char *feed_names[16];
  OrtValue *feed[16];
  size_t n_feed = 0;
  for (size_t i = 0; i < n_model_in && i < 16; i++) {
    char *name;
    CHECK(ort->SessionGetInputName(session, i, alloc, &name));
    uint32_t j = 0;
    while (j < n_in && strcmp(in[j].name, name)) j++;
    if (j == n_in) { fprintf(stderr, "model input '%s' is not in the inputs file\n", name); return 2; }
    ONNXTensorElementDataType t = in[j].type == 7 ? ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64
                                : in[j].type == 6 ? ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32
                                                  : ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
    CHECK(ort->CreateTensorWithDataAsOrtValue(mem, in[j].data, in[j].bytes, in[j].dims, in[j].ndims, t, &feed[n_feed]));
    feed_names[n_feed++] = in[j].name;
    alloc->Free(alloc, name);
  }
  const char **out_names = calloc(n_out, sizeof *out_names);
  OrtValue **outs = calloc(n_out, sizeof *outs);
  for (size_t i = 0; i < n_out; i++) CHECK(ort->SessionGetOutputName(session, i, alloc, (char **)&out_names[i]));

#define RUN_ONCE()                                                                                  \
  do {                                                                                              \
    for (size_t k = 0; k < n_out; k++) if (outs[k]) { ort->ReleaseValue(outs[k]); outs[k] = NULL; } \
    CHECK(ort->Run(session, NULL, feed_names, (const OrtValue *const *)feed, n_feed, out_names, n_out, outs)); \
  } while (0)

  if (dump_path) {
    if (!inputs_path) { fprintf(stderr, "-o needs -i inputs.bin (the inputs to dump outputs of)\n"); return 2; }
    RUN_ONCE();
    return dump_outputs(dump_path, out_names, outs, n_out);
  }
  t0 = now_s();
  RUN_ONCE();
  double first = now_s() - t0;
  for (int i = 0; i < warmup; i++) RUN_ONCE();
  double *lat = malloc(sizeof(double) * runs);
  double total0 = now_s(), sum = 0;
  for (int i = 0; i < runs; i++) {
    t0 = now_s();
    RUN_ONCE();
    lat[i] = now_s() - t0;
    sum += lat[i];
  }
  double wall = now_s() - total0;

  printf("Session creation time cost: %.6f s\n", created);
  printf("First inference time cost: %d ms\n", (int)(first * 1e3 + 0.5));
  printf("Total inference time cost: %.6f s\n", sum);
  printf("Total inference requests: %d\n", runs);
  printf("Average inference time cost: %.6f ms\n", sum / runs * 1e3);
  printf("Total inference run time: %.6f s\n", wall);
  printf("Number of inferences per second: %.3f\n", runs / wall);
  printf("Peak working set size: %ld bytes\n", peak_rss_bytes());
  printf("mobilecomp latencies (ms):");
  for (int i = 0; i < runs; i++) printf(" %.4f", lat[i] * 1e3);
  printf("\n");
  qsort(lat, runs, sizeof *lat, cmp_double);
  printf("Min Latency: %.9f s\n", lat[0]);
  printf("Max Latency: %.9f s\n", lat[runs - 1]);
  printf("P50 Latency: %.9f s\n", pct(lat, runs, 50));
  printf("P90 Latency: %.9f s\n", pct(lat, runs, 90));
  printf("P95 Latency: %.9f s\n", pct(lat, runs, 95));
  printf("P99 Latency: %.9f s\n", pct(lat, runs, 99));
  printf("P999 Latency: %.9f s\n", pct(lat, runs, 99.9));
  return 0;
}
