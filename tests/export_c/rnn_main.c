/* rnn_main FOLDER T B D H: calls rnn(x, h, W_h, U_h, b_h) of the exported
   examples/rnn.py with x (T, B, D), h (B, H), W_h and U_h (D, D), b_h (D,)
   read from FOLDER/<name>.bin (float32); writes out_0.bin and out_1.bin. */
#include "rnn.h"
#include "io.h"

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: rnn_main FOLDER T B D H\n");
        return 2;
    }
    const char *folder = argv[1];
    int64_t T = size_argument(argv[2]), B = size_argument(argv[3]), D = size_argument(argv[4]),
            H = size_argument(argv[5]);
    int64_t x_shape[] = {T, B, D}, h_shape[] = {B, H}, w_shape[] = {D, D}, b_shape[] = {D};
    float *x = read_input(folder, "x", sizeof(float) * T * B * D);
    float *h = read_input(folder, "h", sizeof(float) * B * H);
    float *w = read_input(folder, "W_h", sizeof(float) * D * D);
    float *u = read_input(folder, "U_h", sizeof(float) * D * D);
    float *b = read_input(folder, "b_h", sizeof(float) * D);
    jitc_tensor ys, last;
    check(rnn(x, x_shape, h, h_shape, w, w_shape, u, w_shape, b, b_shape, &ys, &last));
    write_output(folder, "out_0", &ys);
    write_output(folder, "out_1", &last);
    free(x), free(h), free(w), free(u), free(b);
    return 0;
}
