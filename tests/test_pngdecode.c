/* test_pngdecode.c - decodes a PNG completely with libpng and checks its size.
 * usage: test_pngdecode FILE.png WIDTH HEIGHT */
#include <png.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: test_pngdecode FILE.png WIDTH HEIGHT\n");
        return 2;
    }
    png_image img = {0};
    img.version = PNG_IMAGE_VERSION;
    int ok = png_image_begin_read_from_file(&img, argv[1]);
    unsigned w = ok ? img.width : 0, h = ok ? img.height : 0;
    if (ok) {
        img.format = PNG_FORMAT_RGBA;
        void *buf = malloc(PNG_IMAGE_SIZE(img));
        ok = buf && png_image_finish_read(&img, NULL, buf, 0, NULL); /* every row decodes */
        /* a plot is not one flat colour */
        unsigned char *px = buf;
        size_t distinct = 0;
        for (size_t i = 4; ok && i < PNG_IMAGE_SIZE(img); i += 4) distinct += px[i] != px[0];
        ok = ok && distinct > 1000;
        free(buf);
    }
    bool size_ok = ok && w == (unsigned)atoi(argv[2]) && h == (unsigned)atoi(argv[3]);
    printf("%s %s decodes: %ux%u (want %sx%s)%s%s\n", size_ok ? "ok  " : "FAIL", argv[1], w, h, argv[2],
           argv[3], img.message[0] ? ": " : "", img.message);
    printf("%d passed, %d failed\n", size_ok, !size_ok);
    return size_ok ? 0 : 1;
}
