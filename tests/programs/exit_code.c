/* exit_code: writes a few lines to stdout and stderr, interleaved, and exits with the status given as
 * its first argument (default 0). Used to check that the shim changes neither output nor status.
 *
 * Usage: exit_code [STATUS [WORD...]]     each WORD is echoed to stdout, then reversed to stderr */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	int status = argc > 1 ? atoi(argv[1]) : 0;

	printf("exit_code: stdout line 1\n");
	fprintf(stderr, "exit_code: stderr line 1\n");
	for (int i = 2; i < argc; i++) {
		size_t n = strlen(argv[i]);
		printf("word %d: %s\n", i - 1, argv[i]);
		fprintf(stderr, "drow %d: ", i - 1);
		while (n > 0)
			fputc(argv[i][--n], stderr);
		fputc('\n', stderr);
	}
	printf("exit_code: exiting with %d\n", status);
	fprintf(stderr, "exit_code: stderr last line\n");
	return status;
}
