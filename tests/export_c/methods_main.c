/* methods_main FOLDER B SCALE: one C function per method of a saved module.
   Codec.forward(x), Codec.encode(x, scale) and Codec.decode(code), exported as
   Codec_forward, Codec_encode and Codec_decode; x (B, 3) and code (B, 4) are
   float32 from FOLDER/x.bin and FOLDER/code.bin. Writes each result. */
#include "codec.h"
#include "io.h"

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: methods_main FOLDER B SCALE\n");
        return 2;
    }
    const char *folder = argv[1];
    int64_t batch = size_argument(argv[2]);
    int64_t x_shape[] = {batch, 3}, code_shape[] = {batch, 4};
    float *x = read_input(folder, "x", sizeof(float) * batch * 3);
    float *code = read_input(folder, "code", sizeof(float) * batch * 4);
    jitc_tensor forward, encoded, decoded, norm;
    check(Codec_forward(x, x_shape, &forward));
    write_output(folder, "forward", &forward);
    check(Codec_encode(x, x_shape, strtod(argv[3], NULL), &encoded));
    write_output(folder, "encoded", &encoded);
    check(Codec_decode(code, code_shape, &decoded, &norm));
    write_output(folder, "decoded", &decoded);
    write_output(folder, "norm", &norm);
    free(x), free(code);
    return 0;
}
