/* mlp_main FOLDER B W: calls mlp_constants(x) of an exported MLP whose weights are
   constants in the library, with x (B, W) float32 from FOLDER/x.bin; writes out.bin. */
#include "mlp.h"
#include "io.h"

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: mlp_main FOLDER B W\n");
        return 2;
    }
    int64_t shape[] = {size_argument(argv[2]), size_argument(argv[3])};
    float *x = read_input(argv[1], "x", sizeof(float) * shape[0] * shape[1]);
    jitc_tensor y;
    check(mlp_constants(x, shape, &y));
    write_output(argv[1], "out", &y);
    free(x);
    return 0;
}
