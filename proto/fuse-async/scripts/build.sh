#!/bin/bash
# Builds the prototype into proto/fuse-async/build: the Java file system and the C load.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$here/build/classes"
m2=${M2_REPO:-$HOME/.m2/repository}
cp=$m2/com/github/serceman/jnr-fuse/0.5.8/jnr-fuse-0.5.8.jar
for j in com/github/jnr/jnr-ffi/2.2.16/jnr-ffi-2.2.16.jar com/github/jnr/jffi/1.3.13/jffi-1.3.13.jar \
         com/github/jnr/jffi/1.3.13/jffi-1.3.13-native.jar org/ow2/asm/asm/9.2/asm-9.2.jar \
         org/ow2/asm/asm-commons/9.2/asm-commons-9.2.jar org/ow2/asm/asm-analysis/9.2/asm-analysis-9.2.jar \
         org/ow2/asm/asm-tree/9.2/asm-tree-9.2.jar org/ow2/asm/asm-util/9.2/asm-util-9.2.jar \
         com/github/jnr/jnr-a64asm/1.0.0/jnr-a64asm-1.0.0.jar com/github/jnr/jnr-x86asm/1.0.2/jnr-x86asm-1.0.2.jar \
         com/github/jnr/jnr-posix/3.1.19/jnr-posix-3.1.19.jar com/github/jnr/jnr-constants/0.10.4/jnr-constants-0.10.4.jar; do
    cp=$cp:$m2/$j
done
echo "$cp" > "$here/build/classpath"
javac --release 17 -Xlint:all -d "$here/build/classes" -cp "$cp" "$here/java/ProtoFs.java"
gcc -O2 -Wall -pthread -o "$here/build/load" "$here/c/load.c"
gcc -O2 -Wall -I/usr/include/fuse -o "$here/build/layout" "$here/c/layout.c"
