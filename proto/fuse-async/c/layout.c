#define FUSE_USE_VERSION 26
#define _FILE_OFFSET_BITS 64
#include <fuse_lowlevel.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
/* Prints the layouts the Java binding hard-codes, so that they are checked, not guessed. */
int main(void) {
    printf("sizeof(fuse_lowlevel_ops)=%zu read@%zu write@%zu fallocate@%zu\n", sizeof(struct fuse_lowlevel_ops),
           offsetof(struct fuse_lowlevel_ops, read), offsetof(struct fuse_lowlevel_ops, write), offsetof(struct fuse_lowlevel_ops, fallocate));
    printf("sizeof(fuse_file_info)=%zu fh@%zu flags@%zu\n", sizeof(struct fuse_file_info), offsetof(struct fuse_file_info, fh), offsetof(struct fuse_file_info, flags));
    struct fuse_file_info fi = {0}; fi.direct_io = 1; unsigned int w; memcpy(&w, (char*)&fi + 20, 4); printf("direct_io bit word@20=%u\n", w);
    printf("sizeof(fuse_entry_param)=%zu attr@%zu attr_timeout@%zu entry_timeout@%zu\n", sizeof(struct fuse_entry_param),
           offsetof(struct fuse_entry_param, attr), offsetof(struct fuse_entry_param, attr_timeout), offsetof(struct fuse_entry_param, entry_timeout));
    printf("sizeof(stat)=%zu ino@%zu nlink@%zu mode@%zu uid@%zu size@%zu blksize@%zu blocks@%zu\n", sizeof(struct stat), offsetof(struct stat, st_ino),
           offsetof(struct stat, st_nlink), offsetof(struct stat, st_mode), offsetof(struct stat, st_uid), offsetof(struct stat, st_size), offsetof(struct stat, st_blksize), offsetof(struct stat, st_blocks));
    printf("sizeof(fuse_args)=%zu\n", sizeof(struct fuse_args));
    return 0;
}
