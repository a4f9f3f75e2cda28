checkout

cd app
