// The functions are inline in the header; this file gives the target something to compile.
#include "CTamgaMemory.h"
