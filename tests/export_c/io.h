/* Shared by the test programs that call exported libraries: read raw
   little-endian inputs the test wrote, write each output's bytes to a file
   and describe it on stdout ("NAME DTYPE NDIM SIZES..."), and report a
   failed call on stderr with status 3. Include after the model's header. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline void *read_input(const char *folder, const char *name, size_t nbytes) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.bin", folder, name);
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(2);
    }
    void *data = malloc(nbytes ? nbytes : 1);
    size_t got = fread(data, 1, nbytes, file);
    int extra = fgetc(file);
    fclose(file);
    if (got != nbytes || extra != EOF) {
        fprintf(stderr, "%s does not hold %zu bytes\n", path, nbytes);
        exit(2);
    }
    return data;
}

static inline void write_output(const char *folder, const char *name, jitc_tensor *tensor) {
    char path[4096];
    size_t count = 1;
    for (int64_t axis = 0; axis < tensor->ndim; ++axis)
        count *= (size_t)tensor->shape[axis];
    snprintf(path, sizeof path, "%s/%s.bin", folder, name);
    FILE *file = fopen(path, "wb");
    if (file == NULL || fwrite(tensor->data, jitc_dtype_size(tensor->dtype), count, file) != count) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
    fclose(file);
    printf("%s %d %lld", name, tensor->dtype, (long long)tensor->ndim);
    for (int64_t axis = 0; axis < tensor->ndim; ++axis)
        printf(" %lld", (long long)tensor->shape[axis]);
    printf("\n");
    jitc_free(tensor->data);
}

static inline void check(int status) {
    if (status != 0) {
        fprintf(stderr, "status %d: %s\n", status, jitc_last_error());
        exit(3);
    }
}

static inline int64_t size_argument(const char *text) {
    char *end;
    long long value = strtoll(text, &end, 10);
    if (*end != '\0') {
        fprintf(stderr, "not a size: %s\n", text);
        exit(2);
    }
    return value;
}
