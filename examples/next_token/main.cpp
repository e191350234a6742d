// next_token: train a toy language model and check which embedding rows moved (cli.hpp).
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "cli.hpp"

int main(int argc, char** argv) {
  return next_token::run(argc, argv, std::cout, std::cerr, ::isatty(::fileno(stdout)) != 0);
}
