/* gpt2_main FOLDER T: calls gpt2(ids) of the exported examples/gpt2.py
   model (weights in the library) with ids (T,) int64 from FOLDER/ids.bin;
   writes the logits to out.bin. */
#include "gpt2.h"
#include "io.h"

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: gpt2_main FOLDER T\n");
        return 2;
    }
    int64_t shape[] = {size_argument(argv[2])};
    int64_t *ids = read_input(argv[1], "ids", sizeof(int64_t) * shape[0]);
    jitc_tensor logits;
    check(gpt2(ids, shape, &logits));
    write_output(argv[1], "out", &logits);
    free(ids);
    return 0;
}
