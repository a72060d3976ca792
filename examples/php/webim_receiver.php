<?php
// A Webim chat event receiver as such receivers are usually written: it reads `chat` from the
// POST form (or the query string), checks `signature` (HMAC-SHA256, handler API 4+) or `crc`
// (MD5, older APIs) with the account's private key, and decodes the chat. Put webim-edge in
// front of it with ORIGIN_FORMAT=webim and it keeps working unchanged.
//
//   WEBIM_KEY=<the key> php -S 127.0.0.1:8790 examples/php/webim_receiver.php
$key = getenv('WEBIM_KEY');
$chat = $_POST['chat'] ?? $_GET['chat'] ?? null;
$signature = $_POST['signature'] ?? $_GET['signature'] ?? null;
$crc = $_POST['crc'] ?? $_GET['crc'] ?? null;

if ($chat === null || $key === false) {
    http_response_code(400);
    exit("no chat\n");
}
if ($signature !== null) {
    $valid = hash_equals(hash_hmac('sha256', $chat, $key), $signature);
} else {
    $valid = $crc !== null && hash_equals(md5($chat . $key), $crc);
}
if (!$valid) {
    http_response_code(403);
    exit("bad signature\n");
}
$data = json_decode($chat, true);
if (!is_array($data)) {
    http_response_code(400);
    exit("bad chat\n");
}

// What a real receiver would store in its CRM; here, one line for whoever runs it.
$event = basename(parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH), '.php');
$line = json_encode(['event' => $event, 'scheme' => $signature !== null ? 'signature' : 'crc', 'chat' => $data],
    JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES);
file_put_contents(getenv('RECEIVER_LOG') ?: 'php://stderr', $line . "\n", FILE_APPEND);
echo "ok\n";
