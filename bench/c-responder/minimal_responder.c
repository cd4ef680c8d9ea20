/*
 * make bench (W3) only: the ceiling for anything behind FastCGI on this machine — a minimal
 * responder on libfcgi that answers every request with the same bytes (the W3 task's get_task
 * answer), with THREADS threads each looping accept → write → finish. No parsing, no login, no
 * MySQL: what is left is nginx ↔ FastCGI and libfcgi itself.
 *
 *   minimal_responder SOCKET_PATH BODY_FILE [THREADS]
 */
#include <fcgiapp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int listen_fd;
static char *response;
static int response_length;

static void *serve(void *unused) {
    (void)unused;
    FCGX_Request request;
    FCGX_InitRequest(&request, listen_fd, 0);
    while (FCGX_Accept_r(&request) == 0) {
        FCGX_PutStr(response, response_length, request.out);
        FCGX_Finish_r(&request);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s SOCKET_PATH BODY_FILE [THREADS]\n", argv[0]);
        return 64;
    }
    FILE *file = fopen(argv[2], "rb");
    if (!file) { perror(argv[2]); return 66; }
    static char body[1 << 16];
    size_t body_length = fread(body, 1, sizeof body, file);
    fclose(file);
    char head[256];
    int head_length = snprintf(head, sizeof head,
                               "Status: 200 OK\r\nContent-Type: application/json;charset=UTF-8\r\nContent-Length: %zu\r\n\r\n",
                               body_length);
    response_length = head_length + (int)body_length;
    response = malloc((size_t)response_length);
    memcpy(response, head, (size_t)head_length);
    memcpy(response + head_length, body, body_length);

    FCGX_Init();
    listen_fd = FCGX_OpenSocket(argv[1], 1024);
    if (listen_fd < 0) { fprintf(stderr, "cannot listen on %s\n", argv[1]); return 71; }
    int threads = argc > 3 ? atoi(argv[3]) : 64;
    pthread_t ids[1024];
    if (threads < 1 || threads > 1024) threads = 64;
    for (int i = 0; i < threads; i++) pthread_create(&ids[i], NULL, serve, NULL);
    for (int i = 0; i < threads; i++) pthread_join(ids[i], NULL);
    return 0;
}
