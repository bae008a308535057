// The converge executable: everything is in RunCli so that it can be tested.
#include "node/cli/cli.h"

int main(int argc, char** argv) { return converge::RunCli(argc, argv); }
